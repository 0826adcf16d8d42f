//! Integration tests of `gavel-governance`.
