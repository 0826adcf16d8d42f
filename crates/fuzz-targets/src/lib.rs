//! The bodies of Gavel's fuzz targets: one `pub fn TARGET(data: &[u8])`
//! each, which parses or verifies `data` through the crate that owns the
//! format and asserts what must hold of the result (a panic is a finding).
//!
//! Two callers share them: cargo-fuzz (`fuzz/fuzz_targets/TARGET.rs` at the
//! workspace root, run on the stable toolchain as RECIPES.md says) and
//! `tests/replay.rs`, which runs every file of `fuzz/corpus/TARGET/` and
//! `fuzz/regressions/TARGET/` through the same function as an ordinary
//! test, so CI replays the corpora and every past finding without fuzzing.
//!
//! Where random bytes would almost never get past a signature or a schema,
//! a target builds the input from the bytes instead (`Source`): it signs
//! the payload the fuzzer wrote with test keys, or writes a bundle from a
//! small vocabulary, and checks the parts behind the door.
//!
//! ```
//! // Any bytes at all: a target returns, or panics on a finding.
//! gavel_fuzz_targets::bundle_yaml(b"rules: []");
//! gavel_fuzz_targets::governance_expr(b"raroi >= 1 and not confidence < 0.5\0\x04\x07");
//! ```
// A finding is a panic (`assert!`, `panic!`); reading input never unwraps.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod agent;
mod dataset;
mod governance;
mod policy;
mod registry;
mod trust;

pub use agent::{batch_body, decide_body, rollout_document};
pub use dataset::{dataset_csv, dataset_jsonl};
pub use governance::{governance_expr, governance_policy};
pub use policy::{bundle_json, bundle_yaml, engine_diff};
pub use registry::oci_manifest;
pub use trust::{envelope, trust_document};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name, for the replay test and `fuzz/`.
pub const TARGETS: [(&str, Target); 13] = [
    ("bundle_yaml", bundle_yaml),
    ("bundle_json", bundle_json),
    ("engine_diff", engine_diff),
    ("governance_expr", governance_expr),
    ("governance_policy", governance_policy),
    ("envelope", envelope),
    ("trust_document", trust_document),
    ("rollout_document", rollout_document),
    ("dataset_csv", dataset_csv),
    ("dataset_jsonl", dataset_jsonl),
    ("oci_manifest", oci_manifest),
    ("decide_body", decide_body),
    ("batch_body", batch_body),
];

/// Choices read off the front of the fuzzer's bytes; once they run out
/// every choice is the first (zero), so any input is a valid program.
#[derive(Debug)]
pub(crate) struct Source<'a> {
    data: &'a [u8],
}

impl<'a> Source<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Source { data }
    }

    pub(crate) fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// A number below `n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::from(self.byte()) % n
        }
    }

    pub(crate) fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let i = self.below(items.len());
        items.get(i).copied()
    }

    /// Whatever is left, and nothing more after it.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// Up to the next `0` byte (dropped), or the rest.
    pub(crate) fn until_nul(&mut self) -> &'a [u8] {
        match self.data.iter().position(|&b| b == 0) {
            Some(i) => {
                let (head, tail) = self.data.split_at(i);
                self.data = tail.get(1..).unwrap_or_default();
                head
            }
            None => self.rest(),
        }
    }
}

/// The instant every target verifies at: 2027-01-15T08:00:00Z.
pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_800_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The test keys, by seed: each holds one role, by name.
pub(crate) mod keys {
    use gavel_trust::ed25519::SigningKey;
    use gavel_trust::{PublicKey, Role};

    /// `(seed, name, role)`; seed 9 is never trusted.
    pub(crate) const ALL: [(u8, &str, Role); 8] = [
        (1, "al", Role::Author),
        (2, "ann", Role::Approver),
        (3, "bo", Role::Approver),
        (4, "op", Role::Operator),
        (5, "sec", Role::Security),
        (6, "sue", Role::Security),
        (7, "sam", Role::Security),
        (9, "eve", Role::Security),
    ];

    pub(crate) fn signing(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    pub(crate) fn public(seed: u8, name: &str, role: Role) -> PublicKey {
        PublicKey::new(&signing(seed).verifying_key(), name, "", vec![role])
    }

    /// The keys trusted: every one of [`ALL`] but eve's.
    pub(crate) fn trusted() -> Vec<PublicKey> {
        ALL.iter()
            .filter(|(seed, _, _)| *seed != 9)
            .map(|&(seed, name, role)| public(seed, name, role))
            .collect()
    }

    /// The signing keys a mask selects (bit i: key i of [`ALL`]).
    pub(crate) fn chosen(mask: u8) -> Vec<SigningKey> {
        ALL.iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, (seed, _, _))| signing(*seed))
            .collect()
    }
}
