//! Bundles at the size limit: refused before parsing, and parsed whole
//! within the bounds.

use std::time::Duration;

use crate::*;

/// Regression: a file over 16 MiB is refused before it is read, by size.
#[test]
fn over_the_size_limit_is_refused_before_parsing() {
    let dir = workdir();
    let big = write(dir.path(), "big.json", vec![b' '; (16 << 20) + 1]);
    let r = run(dir.path(), &["validate", &big], None);
    r.assert_bounded("validate 16 MiB + 1", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("file too large"), "{}", r.stderr);
    assert!(r.peak_bytes < 64 << 20, "refused without reading it whole");
}
