//! Tidy checks, run with the test suite: rules of the codebase that a
//! compiler does not enforce.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') && name != "node_modules" {
                    rust_files(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }

    /// Every Rust file opens with a `//!` doc saying what it is for.
    #[test]
    fn every_rust_file_says_what_it_is_for() {
        let root = crate::root();
        let mut files = Vec::new();
        for dir in ["crates", "xtask"] {
            rust_files(&root.join(dir), &mut files);
        }
        assert!(files.len() > 10, "found only {} files", files.len());
        let missing: Vec<_> = files
            .iter()
            .filter(|f| !std::fs::read_to_string(f).unwrap().starts_with("//!"))
            .collect();
        assert!(
            missing.is_empty(),
            "files without a `//!` opening doc: {missing:?}"
        );
    }

    /// The pure crates do no IO: none of them pulls in an async runtime, a
    /// database, an HTTP client, the keychain or Tauri.
    #[test]
    fn pure_crates_pull_in_no_io() {
        let forbidden = [
            "tokio", "sqlx", "reqwest", "keyring", "tauri", "hyper", "ureq",
        ];
        for krate in ["gavel-policy", "gavel-governance", "gavel-trust"] {
            let out = Command::new(env!("CARGO"))
                .args([
                    "tree", "--locked", "-p", krate, "-e", "normal", "--prefix", "none",
                    "--format", "{p}",
                ])
                .current_dir(crate::root())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() && stderr.contains("did not match any packages") {
                continue; // that crate does not exist yet
            }
            assert!(
                out.status.success(),
                "cargo tree -p {krate} failed: {stderr}"
            );
            let tree = String::from_utf8_lossy(&out.stdout);
            for line in tree.lines() {
                let name = line.split_whitespace().next().unwrap_or_default();
                assert!(
                    !forbidden
                        .iter()
                        .any(|f| name == *f || name.starts_with(&format!("{f}-"))),
                    "{krate} depends on `{name}`, which does IO; keep IO in the edge crates"
                );
            }
        }
    }
}
