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
        for dir in ["crates", "src-tauri", "xtask"] {
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

    /// The normal dependencies of `krate` (itself included), by name.
    fn dependencies(krate: &str) -> Option<Vec<String>> {
        let out = Command::new(env!("CARGO"))
            .args([
                "tree", "--locked", "-p", krate, "-e", "normal", "--prefix", "none", "--format",
                "{p}",
            ])
            .current_dir(crate::root())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && stderr.contains("did not match any packages") {
            return None; // that crate does not exist yet
        }
        assert!(
            out.status.success(),
            "cargo tree -p {krate} failed: {stderr}"
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        Some(
            tree.lines()
                .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
                .collect(),
        )
    }

    fn assert_free_of(krates: &[&str], forbidden: &[&str], why: &str) {
        for krate in krates {
            for name in dependencies(krate).unwrap_or_default() {
                assert!(
                    !forbidden
                        .iter()
                        .any(|f| name == *f || name.starts_with(&format!("{f}-"))),
                    "{krate} depends on `{name}`: {why}"
                );
            }
        }
    }

    /// The pure crates do no IO: none of them pulls in an async runtime, a
    /// database, an HTTP client, the keychain or Tauri.
    #[test]
    fn pure_crates_pull_in_no_io() {
        assert_free_of(
            &["gavel-policy", "gavel-governance", "gavel-trust"],
            &[
                "tokio", "sqlx", "reqwest", "keyring", "tauri", "hyper", "ureq",
            ],
            "it does IO; keep IO in the edge crates",
        );
    }

    /// Only the desktop shell knows Tauri (STYLE.md): the console, the store
    /// and the CLI build without it.
    #[test]
    fn only_the_desktop_shell_knows_tauri() {
        assert_free_of(
            &["gavel-console", "gavel-store", "gavel-cli"],
            &["tauri", "wry", "webkit2gtk"],
            "only src-tauri may depend on Tauri",
        );
    }
}
