//! What an attacker would send, up to the 16 MiB input limit: every case
//! must finish in bounded time with a peak memory under 1 GB, or be refused
//! (exit 2) naming the limit it hit. The desktop app and the daemon put the
//! same code behind a window and an open port.
//!
//! Peak memory is the child's own maximum resident set, from `wait4`'s
//! rusage. The suite runs against a release build (`cargo xtask test` runs
//! `cargo nextest run --release --features adversarial-tests --test
//! adversarial`): debug builds are too slow for inputs of this size.

// `wait4` is the one call here that needs `unsafe`: std's `Child::wait`
// drops the rusage the kernel hands back.
#![allow(unsafe_code)]

mod bundles;
mod governance;
mod lint;
mod sim;
mod trust;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The bound every case must stay under.
pub const PEAK_LIMIT_BYTES: u64 = 1 << 30;

/// What one run of `gavel` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// The child's peak resident set size.
    pub peak_bytes: u64,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts the run stayed under the memory bound and the time bound,
    /// with a message naming the case.
    pub fn assert_bounded(&self, case: &str, max_time: Duration) -> &Self {
        assert!(
            self.peak_bytes < PEAK_LIMIT_BYTES,
            "{case}: peak memory {} MB, limit {} MB",
            self.peak_bytes >> 20,
            PEAK_LIMIT_BYTES >> 20
        );
        assert!(
            self.elapsed < max_time,
            "{case}: took {:?}, limit {max_time:?}",
            self.elapsed
        );
        assert!(
            !self.stderr.contains("panicked"),
            "{case}: gavel panicked:\n{}",
            self.stderr
        );
        eprintln!(
            "{case}: exit {}, peak {} MB, {:.2} s, {} bytes of output",
            self.code,
            self.peak_bytes >> 20,
            self.elapsed.as_secs_f64(),
            self.stdout.len()
        );
        self
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `gavel` with `args` in `dir`, standard input from `stdin` (a file)
/// or empty, and measures its peak memory and time.
pub fn run(dir: &Path, args: &[&str], stdin: Option<&Path>) -> Run {
    let out_path = dir.join(".stdout");
    let err_path = dir.join(".stderr");
    let stdin = match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
        None => Stdio::null(),
    };
    let started = Instant::now();
    #[allow(clippy::zombie_processes, reason = "reaped by `wait4` below")]
    let child = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .current_dir(dir)
        .env("GAVEL_HOME", dir.join("home"))
        .env_remove("GAVEL_IDENTITY")
        // Peak memory is what gavel holds, not what its allocator keeps
        // for reuse: mimalloc returns freed pages at once instead of
        // after its 10 ms delay (with the delay, the same run peaked
        // anywhere from 48 to 65 MB depending on thread timing).
        .env("MIMALLOC_PURGE_DELAY", "0")
        .stdin(stdin)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data the kernel fills in; `pid` is our own
    // child, not yet waited for (the `Child` handle is never waited on).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(waited, pid, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        // Killed (the kernel's OOM killer, say): never a pass.
        128 + libc::WTERMSIG(status)
    };
    Run {
        code,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
        // Linux reports ru_maxrss in KiB.
        peak_bytes: u64::try_from(usage.ru_maxrss).unwrap() * 1024,
        elapsed,
    }
}

/// A fresh directory for one case's files.
pub fn workdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> String {
    let p: PathBuf = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}
