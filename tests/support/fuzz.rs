//! `make fuzz`: the mutation test's generator (mutants.rs) and judging (verdicts.rs) run for a
//! given time, in batches with a new seed each, against a pixpipe binary (the release one):
//! `cargo run --release --example fuzz -- PIXPIPE [--seconds 120] [--batch 300]
//! [--timeout 20] [--seed N] [--findings target/fuzz-findings]`.
//!
//! Reports panics and other crashes, hangs (a command past `--timeout` seconds), mutants on
//! which `check --deep` and `build` disagree, and outputs that do not decode at their manifest
//! size. Each offending input is copied to the findings folder with a note (`.txt`) of what
//! happened and how to replay it: `--seed` (FUZZ_SEED) runs that one batch again. A crash or a
//! hang is narrowed down to its mutants by halving the batch; a disagreement is run again
//! alone. Exits 1 when anything was found. Generated inputs only: nothing is downloaded.

mod exif;
mod mutants;
mod pixels;
mod verdicts;

use mutants::{Mutant, Rng};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use verdicts::{judge, run, write_site, Cmd, Outputs, Ran};

struct Options {
    bin: PathBuf,
    seconds: u64,
    batch: usize,
    timeout: Duration,
    seed: Option<u64>,
    findings: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        bin: args.next().ok_or("no pixpipe binary given")?.into(),
        seconds: 120,
        batch: 300,
        timeout: Duration::from_secs(20),
        seed: None,
        findings: "target/fuzz-findings".into(),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag} {value}: not a whole number"))
        };
        match flag.as_str() {
            "--seconds" => o.seconds = number()?,
            "--batch" => o.batch = number()?.max(1) as usize,
            "--timeout" => o.timeout = Duration::from_secs(number()?.max(1)),
            // An empty FUZZ_SEED is no seed: the Makefile passes it as it is.
            "--seed" if value.is_empty() => {}
            "--seed" => o.seed = Some(number()?),
            "--findings" => o.findings = value.into(),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !o.bin.is_file() {
        return Err(format!("{}: no such binary", o.bin.display()));
    }
    Ok(o)
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\nusage: fuzz PIXPIPE [--seconds N] [--batch N] [--timeout SECONDS] [--seed N] [--findings DIR]");
            return ExitCode::from(2);
        }
    };
    // A new series of batch seeds on every run, unless one batch is replayed.
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut series = Rng::new(clock ^ u64::from(std::process::id()));
    let start = Instant::now();
    let mut found: Vec<Finding> = Vec::new();
    let mut batches = 0;
    let mut mutants_run = 0;
    loop {
        let seed = o.seed.unwrap_or_else(|| series.next_u64() >> 11);
        batches += 1;
        found.extend(fuzz_batch(&o, seed, batches));
        mutants_run += o.batch;
        if o.seed.is_some() || start.elapsed() >= Duration::from_secs(o.seconds) {
            break;
        }
    }
    summarise(&o, &found, batches, mutants_run, start.elapsed());
    if found.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What was wrong with one mutant.
struct Finding {
    /// `panic`, `crash`, `hang`, `disagreement`, `output` or `unplaced`.
    class: &'static str,
    /// The same for findings with one cause: the class and the message, numbers left out.
    signature: String,
    seed: u64,
    /// The mutant's index in its batch, when one mutant is to blame.
    index: Option<usize>,
    note: String,
}

fn fuzz_batch(o: &Options, seed: u64, n: usize) -> Vec<Finding> {
    let seeds = mutants::seeds(seed);
    let batch = mutants::batch(seed, &seeds, o.batch);
    let dir = tempfile::tempdir().expect("a temp folder");
    let outputs = outputs_for(seed);
    let files = write_site(dir.path(), &batch, outputs);
    let j = judge(&o.bin, dir.path(), &files, Some(o.timeout));
    let mut found = Vec::new();
    for (cmd, ran) in [(Cmd::Check, &j.check), (Cmd::Build, &j.build)] {
        if ran.failure().is_some() {
            found.extend(narrow(o, seed, &batch, cmd, ran));
        }
    }
    // A command that crashed or hung said nothing complete about the others.
    let complete = j.check.failure().is_none() && j.build.failure().is_none();
    for d in j.disagreements().into_iter().filter(|_| complete) {
        let m = &batch[d.index];
        let said = |s: &Option<String>| s.clone().unwrap_or_else(|| "no error".into());
        let alone = {
            let one = tempfile::tempdir().expect("a temp folder");
            let files = write_site(one.path(), std::slice::from_ref(m), outputs);
            let again = judge(&o.bin, one.path(), &files, Some(o.timeout));
            if again.disagreements().is_empty() {
                "no: alone, the two commands agree"
            } else {
                "yes"
            }
        };
        let message = d
            .build
            .as_ref()
            .or(d.check.as_ref())
            .cloned()
            .unwrap_or_default();
        found.push(Finding {
            class: "disagreement",
            signature: format!("disagreement: {}", shape(&message)),
            seed,
            index: Some(d.index),
            note: format!(
                "check --deep: {}\nbuild: {}\nreproduces alone: {alone}\n",
                said(&d.check),
                said(&d.build)
            ),
        });
        record(o, seed, d.index, m, found.last().expect("just pushed"));
    }
    for (i, problem) in &j.output_problems {
        let f = Finding {
            class: "output",
            signature: format!("output: {}", shape(problem)),
            seed,
            index: Some(*i),
            note: format!("{problem}\n"),
        };
        record(o, seed, *i, &batch[*i], &f);
        found.push(f);
    }
    for u in &j.unplaced {
        found.push(Finding {
            class: "unplaced",
            signature: format!("unplaced: {}", shape(u)),
            seed,
            index: None,
            note: format!("{u}\n"),
        });
    }
    let count = |class: &str| found.iter().filter(|f| f.class == class).count();
    println!(
        "batch {n}  FUZZ_SEED={seed}  {} mutants, {} broken; check --deep {:.2} s, build {:.2} s; \
         {} panics, {} crashes, {} hangs, {} disagreements, {} output problems",
        batch.len(),
        j.build_errors.len(),
        j.check.seconds,
        j.build.seconds,
        count("panic"),
        count("crash"),
        count("hang"),
        count("disagreement"),
        count("output"),
    );
    found
}

/// Runs `narrow` may make for one command of one batch: enough to halve a batch of 300 down
/// to a few culprits, not to run every mutant alone when the machine, not a file, is at fault.
const NARROWING_RUNS: usize = 40;

/// The mutants of `batch` that make `cmd` crash or hang: halves of the batch are run until
/// single mutants are left. A part whose halves both pass, or that is left when the runs
/// run out, is reported whole.
fn narrow(o: &Options, seed: u64, batch: &[Mutant], cmd: Cmd, first: &Ran) -> Vec<Finding> {
    let all: Vec<usize> = (0..batch.len()).collect();
    let mut culprits = Vec::new();
    let mut queue = vec![(all, first.clone())];
    let mut runs = 0;
    while let Some((part, ran)) = queue.pop() {
        if part.len() == 1 || runs >= NARROWING_RUNS {
            culprits.extend(part.iter().map(|&i| (i, ran.clone())));
            continue;
        }
        runs += 2;
        let (a, b) = part.split_at(part.len() / 2);
        let mut any = false;
        for half in [a, b] {
            let ran = run_on(o, seed, batch, half, cmd);
            if ran.failure().is_some() {
                any = true;
                queue.push((half.to_vec(), ran));
            }
        }
        if !any {
            // Only together: report the set.
            culprits.extend(part.iter().map(|&i| (i, ran.clone())));
        }
    }
    culprits.sort_by_key(|c| c.0);
    culprits
        .into_iter()
        .map(|(i, ran)| {
            let failure = ran.failure().unwrap_or_default();
            let class = if ran.stderr.contains("panicked at") {
                "panic"
            } else if ran.status == verdicts::Status::TimedOut {
                "hang"
            } else {
                "crash"
            };
            let panic_line = ran
                .stderr
                .lines()
                .skip_while(|l| !l.contains("panicked at"))
                .nth(1)
                .unwrap_or("");
            let f = Finding {
                class,
                signature: match shape(panic_line) {
                    what if what.is_empty() => format!("{class} in {}", cmd.name()),
                    what => format!("{class} in {}: {what}", cmd.name()),
                },
                seed,
                index: Some(i),
                note: format!(
                    "{}: {failure}\nstderr (last lines):\n{}\n",
                    cmd.name(),
                    ran.stderr_tail(15)
                ),
            };
            record(o, seed, i, &batch[i], &f);
            f
        })
        .collect()
}

/// The sizes batch `seed` asks for: every other batch small, so that a JPEG is decoded at a
/// DCT scale by build too.
fn outputs_for(seed: u64) -> Outputs {
    if seed.is_multiple_of(2) {
        Outputs::Full
    } else {
        Outputs::Small
    }
}

/// Run `cmd` on a site of the mutants at `indexes` of batch `seed`.
fn run_on(o: &Options, seed: u64, batch: &[Mutant], indexes: &[usize], cmd: Cmd) -> Ran {
    let dir = tempfile::tempdir().expect("a temp folder");
    let some: Vec<Mutant> = indexes.iter().map(|&i| batch[i].clone()).collect();
    write_site(dir.path(), &some, outputs_for(seed));
    let site = dir.path().to_str().expect("a UTF-8 temp path");
    run(&o.bin, &cmd.args(site), Some(o.timeout))
}

/// Copy mutant `i` of batch `seed` to the findings folder, with a note of finding `f`; a
/// second finding on the same mutant (both commands crashed) is added to its note.
fn record(o: &Options, seed: u64, i: usize, m: &Mutant, f: &Finding) {
    use std::io::Write;
    let stem = format!("{seed}-m-{:04}", i + 1);
    let dir = &o.findings;
    let note_path = dir.join(format!("{stem}.txt"));
    let head = format!(
        "kind: {}\nmutation: {}\nsite: {:?} outputs\nreplay: make fuzz FUZZ_SEED={seed} (its file is content/t/m-{:04}.{} in that batch)\n",
        m.kind,
        m.mutation,
        outputs_for(seed),
        i + 1,
        m.ext,
    );
    let what = format!("\nwhat: {}\n{}", f.class, f.note);
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(dir.join(format!("{stem}.{}", m.ext)), &m.bytes))
        .and_then(|()| {
            let new = !note_path.exists();
            let mut note = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&note_path)?;
            if new {
                note.write_all(head.as_bytes())?;
            }
            note.write_all(what.as_bytes())
        });
    if let Err(e) = written {
        eprintln!("fuzz: cannot write to {}: {e}", dir.display());
    }
}

/// `message` with its numbers and file names left out, so that findings with one cause
/// share it.
fn shape(message: &str) -> String {
    let mut out = String::new();
    for word in message.split_whitespace() {
        let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let w = if word.contains("content/t/") {
            "FILE"
        } else if bare.starts_with(|c: char| c.is_ascii_digit())
            && bare
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == 'x' || c == '.')
        {
            "N"
        } else {
            word
        };
        out.push_str(w);
        out.push(' ');
    }
    out.truncate(out.trim_end().len());
    out.chars().take(160).collect()
}

fn summarise(o: &Options, found: &[Finding], batches: usize, mutants: usize, took: Duration) {
    let count = |class: &str| found.iter().filter(|f| f.class == class).count();
    println!(
        "\nfuzz: {mutants} mutants in {batches} batches, {:.0} s: {} panics, {} crashes, {} hangs, \
         {} disagreements, {} output problems, {} errors at no mutant",
        took.as_secs_f64(),
        count("panic"),
        count("crash"),
        count("hang"),
        count("disagreement"),
        count("output"),
        count("unplaced"),
    );
    let mut groups: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in found {
        groups.entry(&f.signature).or_default().push(f);
    }
    for (signature, fs) in groups {
        let f = fs[0];
        let example = match f.index {
            Some(i) => format!("{}/{}-m-{:04}.txt", o.findings.display(), f.seed, i + 1),
            None => format!("FUZZ_SEED={}", f.seed),
        };
        println!("  {:>4} x {signature}\n         e.g. {example}", fs.len());
    }
    if !found.is_empty() {
        println!("inputs and notes: {}", o.findings.display());
    }
}
