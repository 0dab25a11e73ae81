//! Whether `pixpipe check --deep` predicted `pixpipe build` on a site of mutants (issue #17,
//! item 8): each command's verdict per file, its crashes, and whether what build wrote decodes
//! at the size its manifest says. The consistency test asserts on a `Judgement`; `make fuzz`
//! reports from one. Running the binary is the only I/O besides the site's folder.
#![allow(dead_code)]

use super::mutants::Mutant;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The folder of mutant `i`: a page bundle whose `index.md` references it on its first line.
/// One page each, as pixpipe shows at most `MAX_PER_CODE` diagnostics of one code in a file.
fn bundle(i: usize) -> String {
    format!("content/t/m-{:04}", i + 1)
}

/// Which mutant the page at site path `file` references.
fn mutant_of(file: &str) -> Option<usize> {
    let n: usize = file
        .strip_prefix("content/t/m-")?
        .strip_suffix("/index.md")?
        .parse()
        .ok()?;
    n.checked_sub(1)
}

/// The site-relative path of mutant `i`.
pub fn site_path(i: usize, ext: &str) -> String {
    format!("{}/image.{ext}", bundle(i))
}

/// The sizes a site asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// The default content width (1200 px): these small images are made at their own width,
    /// from a decode at full size.
    Full,
    /// 12 px wide, at one density: a JPEG of 35 px or more is decoded at 1/2 or 1/4 of its
    /// size (DCT scaling), as check --deep decodes it (there at 1/8 from 9 px).
    Small,
}

/// Write every mutant and the page referencing them under `root`, with a configuration that
/// asks for `outputs`; their site-relative paths.
pub fn write_site(root: &Path, mutants: &[Mutant], outputs: Outputs) -> Vec<String> {
    if outputs == Outputs::Small {
        std::fs::write(
            root.join("pixpipe.yaml"),
            "content_width: 12\ndensities: [1]\n",
        )
        .expect("write pixpipe.yaml");
    }
    let mut files = Vec::new();
    for (i, m) in mutants.iter().enumerate() {
        let path = site_path(i, m.ext);
        let p = root.join(&path);
        std::fs::create_dir_all(p.parent().expect("a folder")).expect("create content/t");
        std::fs::write(&p, &m.bytes).expect("write a mutant");
        let page = format!("![m](image.{})\n", m.ext);
        std::fs::write(root.join(bundle(i)).join("index.md"), page).expect("write a page");
        files.push(path);
    }
    files
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code.
    Exited(i32),
    /// A signal stopped it.
    Signal(i32),
    /// It ran past the time limit and was killed.
    TimedOut,
}

/// One run of the binary.
#[derive(Debug, Clone)]
pub struct Ran {
    pub args: Vec<String>,
    pub status: Status,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
}

impl Ran {
    /// What went wrong if the command crashed or hung: an exit code other than 0 (clean) or
    /// 1 (problems reported), a signal, a panic message, or the time limit.
    pub fn failure(&self) -> Option<String> {
        let panicked = self.stderr.contains("panicked at");
        match self.status {
            Status::TimedOut => Some(format!("ran past the time limit ({:.0} s)", self.seconds)),
            Status::Signal(s) => Some(format!("stopped by signal {s}")),
            Status::Exited(c) if !matches!(c, 0 | 1) => Some(format!("exited with code {c}")),
            Status::Exited(_) if panicked => Some("printed a panic but exited 0 or 1".into()),
            Status::Exited(_) => None,
        }
    }

    /// The last `n` lines of stderr, for a report.
    pub fn stderr_tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Run `bin` with `args`, without colour; killed after `timeout` if one is given.
pub fn run(bin: &Path, args: &[&str], timeout: Option<Duration>) -> Ran {
    let start = Instant::now();
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(bin)
        .args(args)
        // Its own process group, so that a hung command is killed with whatever it started.
        .process_group(0)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    // Read both pipes while waiting: a full pipe would stop the child.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for pixpipe") {
            use std::os::unix::process::ExitStatusExt;
            break match (s.code(), s.signal()) {
                (Some(c), _) => Status::Exited(c),
                (None, Some(sig)) => Status::Signal(sig),
                (None, None) => Status::Exited(-1),
            };
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.kill();
            let _ = child.wait();
            break Status::TimedOut;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ran {
        args: args.iter().map(|a| a.to_string()).collect(),
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// The two commands compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    /// `check --deep --format json SITE`
    Check,
    /// `build SITE --jobs 2`
    Build,
}

impl Cmd {
    /// Its arguments, for the site at `site`.
    pub fn args(self, site: &str) -> Vec<&str> {
        match self {
            Cmd::Check => vec!["check", "--deep", "--format", "json", site],
            Cmd::Build => vec!["build", site, "--jobs", "2"],
        }
    }
    /// Its name, as a report says it.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Check => "check --deep",
            Cmd::Build => "build",
        }
    }
}

/// What both commands said about a site of `n` mutants.
#[derive(Debug)]
pub struct Judgement {
    pub check: Ran,
    pub build: Ran,
    /// The first error `check --deep` reported for each mutant that has one, by index.
    pub check_errors: BTreeMap<usize, String>,
    /// The first error `build` reported for each mutant that has one, by index.
    pub build_errors: BTreeMap<usize, String>,
    /// Errors of either command that point at no mutant's reference.
    pub unplaced: Vec<String>,
    /// Outputs that do not decode at their manifest size, mutants built without outputs.
    pub output_problems: Vec<(usize, String)>,
}

/// A mutant on which the two commands disagree.
#[derive(Debug, Clone)]
pub struct Disagreement {
    pub index: usize,
    /// What check --deep said (its first error), or `None`: no error.
    pub check: Option<String>,
    /// What build said (its first error), or `None`: no error.
    pub build: Option<String>,
}

impl Judgement {
    /// The mutants with an error in one command and none in the other.
    pub fn disagreements(&self) -> Vec<Disagreement> {
        let indexes: BTreeSet<usize> = self
            .check_errors
            .keys()
            .chain(self.build_errors.keys())
            .copied()
            .collect();
        indexes
            .into_iter()
            .filter(|i| self.check_errors.contains_key(i) != self.build_errors.contains_key(i))
            .map(|i| Disagreement {
                index: i,
                check: self.check_errors.get(&i).cloned(),
                build: self.build_errors.get(&i).cloned(),
            })
            .collect()
    }
}

/// Run both commands (`Cmd`) on the site at `root`, whose page
/// references `files` (from `write_site`), each command killed after `timeout` if given.
pub fn judge(bin: &Path, root: &Path, files: &[String], timeout: Option<Duration>) -> Judgement {
    let site = root.to_str().expect("a UTF-8 temp path");
    let check = run(bin, &Cmd::Check.args(site), timeout);
    let build = run(bin, &Cmd::Build.args(site), timeout);
    let index_of =
        |file: &str, line: u64| mutant_of(file).filter(|i| line == 1 && *i < files.len());
    let mut unplaced = Vec::new();
    let mut check_errors = BTreeMap::new();
    if check.failure().is_none() {
        let diags: Vec<serde_json::Value> =
            serde_json::from_str(&check.stdout).unwrap_or_else(|e| {
                unplaced.push(format!("check: its JSON does not parse ({e})"));
                Vec::new()
            });
        for d in diags.iter().filter(|d| d["severity"] == "error") {
            let said = format!(
                "error[{}]: {}",
                d["code"].as_str().unwrap_or("?"),
                d["message"].as_str().unwrap_or("?")
            );
            match d["line"]
                .as_u64()
                .zip(d["file"].as_str())
                .and_then(|(line, file)| index_of(file, line))
            {
                Some(i) => {
                    check_errors.entry(i).or_insert(said);
                }
                None => unplaced.push(format!("check: {d}")),
            }
        }
    }
    let mut build_errors = BTreeMap::new();
    for line in build.stderr.lines() {
        // `content/t/m-NNNN/index.md:LINE:COL: error[code]: PATH: message`
        let mut fields = line.splitn(4, ':');
        let (Some(file), Some(at), Some(_col), Some(said)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            if line.starts_with("error") {
                unplaced.push(format!("build: {line}"));
            }
            continue;
        };
        let said = said.trim_start();
        if !said.starts_with("error") {
            continue;
        }
        match at.parse().ok().and_then(|at| index_of(file, at)) {
            Some(i) => {
                build_errors.entry(i).or_insert_with(|| said.to_string());
            }
            None => unplaced.push(format!("build: {line}")),
        }
    }
    let output_problems = if build.failure().is_none() {
        outputs(root, files, &check_errors, &build_errors)
    } else {
        Vec::new()
    };
    Judgement {
        check,
        build,
        check_errors,
        build_errors,
        unplaced,
        output_problems,
    }
}

/// Every output in the manifest must decode at the size the manifest gives it, every source
/// in it must have the size its header gives (the image crate reads it; for a GIF, the size
/// browsers show), and every mutant that neither command called broken must have outputs.
fn outputs(
    root: &Path,
    files: &[String],
    check_errors: &BTreeMap<usize, String>,
    build_errors: &BTreeMap<usize, String>,
) -> Vec<(usize, String)> {
    let out = root.join(".pixpipe/site");
    let manifest: serde_json::Value = match std::fs::read_to_string(out.join("data/pixpipe.yaml"))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_yaml::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => return vec![(0, format!("the manifest cannot be read: {e}"))],
    };
    let mut problems = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let variants = manifest["images"][file]["variants"].as_array();
        if variants.is_none_or(|v| v.is_empty()) {
            if !check_errors.contains_key(&i) && !build_errors.contains_key(&i) {
                problems.push((i, "no error, but no output in the manifest".into()));
            }
            continue;
        }
        // The source's size as its header gives it (turned by EXIF orientation or not): a
        // probe that read another size would have the outputs stretched to it.
        let source = std::fs::read(root.join(file)).unwrap_or_default();
        let header = if file.ends_with(".gif") {
            gif_size_in_browsers(&source)
        } else {
            image::ImageReader::new(std::io::Cursor::new(&source))
                .with_guessed_format()
                .ok()
                .and_then(|r| r.into_dimensions().ok())
        };
        let said = (
            manifest["images"][file]["width"].as_u64().unwrap_or(0),
            manifest["images"][file]["height"].as_u64().unwrap_or(0),
        );
        if let Some((w, h)) = header.map(|(w, h)| (w as u64, h as u64)) {
            if said != (w, h) && said != (h, w) {
                problems.push((
                    i,
                    format!(
                        "{file}: its header says {w}x{h}, the manifest {}x{}",
                        said.0, said.1
                    ),
                ));
            }
        }
        for v in variants.into_iter().flatten() {
            let path = v["path"].as_str().unwrap_or("");
            let want = (v["width"].as_u64(), v["height"].as_u64());
            let got = decoded_size(&out.join(path)).map(|size| {
                // A copied GIF: the size browsers show, not the image crate's.
                let bytes = std::fs::read(out.join(path)).unwrap_or_default();
                match v["format"].as_str() {
                    Some("gif") => gif_size_in_browsers(&bytes).unwrap_or(size),
                    _ => size,
                }
            });
            match got {
                Ok((w, h)) if (Some(w as u64), Some(h as u64)) == want => {}
                Ok((w, h)) => problems.push((
                    i,
                    format!(
                        "{path} decodes at {w}x{h}, the manifest says {}x{}",
                        want.0.unwrap_or(0),
                        want.1.unwrap_or(0)
                    ),
                )),
                Err(e) => problems.push((i, format!("{path} does not decode: {e}"))),
            }
        }
    }
    problems
}

fn decoded_size(path: &Path) -> Result<(u32, u32), String> {
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    // The probe's own limit: a copied animation may have a canvas of hundreds of megapixels,
    // which pixpipe decodes (its first frame) and publishes, and so must this check.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(pixpipe::config::DEFAULT_MAX_PIXELS * 8);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    Ok((img.width(), img.height()))
}

/// The size Chromium shows a GIF at (156, measured on mutants): its logical screen, enlarged
/// to hold its first frame where that reaches past it; later frames are cut to the screen.
/// The image crate decodes on the logical screen alone. `None` without a first frame.
fn gif_size_in_browsers(d: &[u8]) -> Option<(u32, u32)> {
    let u16_at = |i: usize| Some(u16::from_le_bytes([*d.get(i)?, *d.get(i + 1)?]) as u32);
    let table = |flags: u8| {
        if flags & 0x80 != 0 {
            3 << ((flags & 7) + 1)
        } else {
            0
        }
    };
    let mut i = 13 + table(*d.get(10)?);
    // Extensions before the first frame: label, then sub-blocks up to an empty one.
    while *d.get(i)? == 0x21 {
        i += 2;
        while *d.get(i)? != 0 {
            i += 1 + *d.get(i)? as usize;
        }
        i += 1;
    }
    (*d.get(i)? == 0x2C).then_some(())?;
    let (left, top, w, h) = (
        u16_at(i + 1)?,
        u16_at(i + 3)?,
        u16_at(i + 5)?,
        u16_at(i + 7)?,
    );
    Some((u16_at(6)?.max(left + w), u16_at(8)?.max(top + h)))
}
