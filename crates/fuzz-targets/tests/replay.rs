//! Replays every fuzz input kept in the repository as an ordinary test:
//! each file of `fuzz/corpus/TARGET/` (the minimized corpus) and of
//! `fuzz/regressions/TARGET/` (inputs that once crashed, hung or blew up,
//! kept after the fix) goes through its target's function, so CI checks
//! them all on every run without fuzzing. A failure names the file;
//! `cargo fuzz run TARGET FILE` (in `fuzz/`) reruns it under the fuzzer.

use std::path::{Path, PathBuf};

use gavel_fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    out.retain(|p| p.is_file());
    out.sort();
    out
}

fn replay(kind: &str, name: &str) -> usize {
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no target `{name}`"));
    let inputs = files(&fuzz_dir().join(kind).join(name));
    for input in &inputs {
        let data = std::fs::read(input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        if std::panic::catch_unwind(|| target(&data)).is_err() {
            panic!(
                "{name} fails on {} (rerun: cd fuzz && cargo fuzz run {name} -s none {})",
                input.display(),
                input.display()
            );
        }
    }
    inputs.len()
}

/// Every target has a committed corpus, and every input in it passes.
fn corpus(name: &str) {
    let n = replay("corpus", name);
    assert!(n > 0, "fuzz/corpus/{name}/ is empty or missing");
}

/// Every input that once failed passes now.
fn regressions(name: &str) {
    replay("regressions", name);
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        mod corpus {
            $(#[test] fn $name() { super::corpus(stringify!($name)); })*
        }
        mod regressions {
            $(#[test] fn $name() { super::regressions(stringify!($name)); })*
        }
        /// The list above names every target the library has.
        #[test]
        fn every_target_is_replayed() {
            let mut listed = vec![$(stringify!($name)),*];
            let mut known: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
            listed.sort();
            known.sort();
            assert_eq!(listed, known);
        }
    };
}

targets!(
    bundle_yaml,
    bundle_json,
    engine_diff,
    governance_expr,
    governance_policy,
    envelope,
    trust_document,
    rollout_document,
    dataset_csv,
    dataset_jsonl,
    oci_manifest,
    decide_body,
    batch_body,
);

/// Each `fuzz/fuzz_targets/TARGET.rs` calls its target, and there is one
/// for every target.
#[test]
fn every_target_has_a_cargo_fuzz_binary() {
    for (name, _) in TARGETS {
        let file = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("gavel_fuzz_targets::{name}(data)")),
            "{} does not call gavel_fuzz_targets::{name}",
            file.display()
        );
    }
}
