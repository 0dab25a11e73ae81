//! `check --deep` predicts `build` (issue #17, item 8): on hundreds of damaged copies of small
//! generated images, a file has an error in `check --deep` exactly when `build` reports one for
//! it, neither command crashes, and every output build writes decodes at its manifest size.
//! The generator (tests/support/mutants.rs) is the one `make fuzz` runs for longer, with
//! other seeds.

use crate::support::mutants::{batch, seeds};
use crate::support::verdicts::{judge, write_site, Outputs};
use std::collections::BTreeSet;
use std::path::Path;

/// Mutants in each test: several hundred, and still a few seconds of a debug build's work.
const COUNT: usize = 500;

#[test]
fn check_deep_and_build_agree_on_every_mutant_made_at_its_own_size() {
    // The seed is fixed, so that a failure is the same on every machine.
    agree_on_every_mutant(1708, Outputs::Full);
}

#[test]
fn check_deep_and_build_agree_on_every_mutant_decoded_at_a_dct_scale() {
    agree_on_every_mutant(1709, Outputs::Small);
}

fn agree_on_every_mutant(seed: u64, outputs: Outputs) {
    let seeds = seeds(seed);
    let mutants = batch(seed, &seeds, COUNT);
    let dir = tempfile::tempdir().unwrap();
    let files = write_site(dir.path(), &mutants, outputs);
    let bin = Path::new(env!("CARGO_BIN_EXE_pixpipe"));
    let j = judge(bin, dir.path(), &files, None);
    for ran in [&j.check, &j.build] {
        assert_eq!(
            ran.failure(),
            None,
            "pixpipe {}: {}",
            ran.args.join(" "),
            ran.stderr_tail(20)
        );
    }
    assert_eq!(j.unplaced, Vec::<String>::new(), "errors at no mutant");
    let described = |i: usize| {
        format!(
            "{} ({}: {})",
            files[i], mutants[i].kind, mutants[i].mutation
        )
    };
    let disagreements: Vec<String> = j
        .disagreements()
        .iter()
        .map(|d| {
            format!(
                "{}\n  check --deep: {}\n  build: {}",
                described(d.index),
                d.check.as_deref().unwrap_or("no error"),
                d.build.as_deref().unwrap_or("no error")
            )
        })
        .collect();
    assert!(
        disagreements.is_empty(),
        "check --deep and build disagree on {} of {COUNT} mutants:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    let outputs: Vec<String> = j
        .output_problems
        .iter()
        .map(|(i, p)| format!("{}: {p}", described(*i)))
        .collect();
    assert!(outputs.is_empty(), "{}", outputs.join("\n"));
    // Same verdicts, so the same exit code: 1, as some mutants are broken.
    assert_eq!(j.check.status, j.build.status);

    // The batch tests something: many mutants of every kind are broken, and many are not.
    let broken = j.build_errors.len();
    assert!(
        (COUNT / 5..=COUNT * 4 / 5).contains(&broken),
        "{broken} of {COUNT} mutants broken"
    );
    let kinds = |broken: bool| -> BTreeSet<&str> {
        (0..COUNT)
            .filter(|i| j.build_errors.contains_key(i) == broken)
            .map(|i| mutants[i].kind)
            .collect()
    };
    assert_eq!(kinds(true).len(), seeds.len(), "kinds with a broken mutant");
    assert_eq!(kinds(false).len(), seeds.len(), "kinds with a whole mutant");
}
