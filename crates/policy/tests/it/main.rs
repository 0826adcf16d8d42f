//! Integration tests of `gavel-policy` through its public API.

mod bad_input;
mod diff;
mod engine;
mod examples;
mod lint;
mod lint_prop;
mod reference;
mod seed;
mod sim;

use std::path::PathBuf;

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
