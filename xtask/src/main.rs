//! Gavel's automation, run as `cargo xtask <task>`:
//!
//! - `run`: set up what is missing, build `gavel` and the desktop app, open
//!   the app on the example bundles (or, without a display, screenshot its
//!   main screens under Xvfb), and run `gavel` over the example bundles and
//!   the curated cases (the README's first command);
//! - `test`: set up what is missing, then formatting, clippy and the whole
//!   test suite (the README's second command, and what CI runs).
//!
//! Kept in Rust rather than shell scripts so it runs the same everywhere and
//! does not drift from the workspace it drives.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod desktop;
mod tidy;

/// The oldest Rust this workspace builds with (`rust-version` in Cargo.toml).
const MIN_RUST: (u32, u32) = (1, 85);

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = root();
    std::env::set_current_dir(&root).context("cannot enter the workspace root")?;
    match task.as_str() {
        "run" => run(&root),
        "test" => test(),
        "setup" => setup(),
        "bindings" => bindings(),
        "measure" => desktop::measure(&root),
        "e2e" => {
            desktop::build_front_end(&root)?;
            let filter = std::env::args().nth(2);
            desktop::e2e_tests(
                filter.as_deref(),
                &target_dir(&root).join("e2e-screenshots"),
            )
        }
        _ => {
            eprintln!("usage: cargo xtask <run|test|setup|bindings|e2e [FILTER]|measure>\n");
            eprintln!(
                "  run    build the desktop app and gavel, open the app (or tour it headless), run gavel over the examples"
            );
            eprintln!("  test   formatting, clippy with warnings denied, and the whole test suite");
            eprintln!("  setup  check the toolchain and install the cargo tools the tests need");
            eprintln!("  bindings  regenerate the front end's TypeScript types (ui/src/bindings/)");
            eprintln!(
                "  e2e    only the desktop app's end-to-end tests (a nextest filter may follow)"
            );
            bail!("unknown task `{task}`")
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command, echoing it, and fails when it fails.
fn sh(program: &str, args: &[&str]) -> Result<()> {
    sh_env(program, args, &[])
}

fn sh_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("cannot start `{program}`; is it installed?"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Checks the toolchain and installs missing cargo tools.
fn setup() -> Result<()> {
    let version = output("rustc", &["--version"]).context(
        "rustc is missing: install Rust with rustup (https://rustup.rs), then run this again",
    )?;
    let numbers: Vec<u32> = version
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect();
    if let [major, minor, ..] = numbers[..] {
        if (major, minor) < MIN_RUST {
            bail!(
                "{} is too old: Gavel needs Rust {}.{} or newer (`rustup update stable`)",
                version.trim(),
                MIN_RUST.0,
                MIN_RUST.1
            );
        }
    }
    for component in ["rustfmt", "clippy"] {
        let probe = if component == "rustfmt" {
            "fmt"
        } else {
            "clippy"
        };
        if output("cargo", &[probe, "--version"]).is_none() {
            sh("rustup", &["component", "add", component])?;
        }
    }
    if output("cargo", &["nextest", "--version"]).is_none() {
        sh("cargo", &["install", "cargo-nextest", "--locked"])?;
    }
    Ok(())
}

/// The README's test command: everything CI checks.
fn test() -> Result<()> {
    setup()?;
    let root = root();
    // The test tools (a registry, skopeo, a keyring, python3) before any
    // test runs: the workspace tests use the registry too.
    system_packages()?;
    // The app embeds `ui/dist`: it is built before anything compiles the app.
    desktop::packages()?;
    desktop::build_front_end(&root)?;
    desktop::check_front_end(&root)?;
    sh("cargo", &["fmt", "--all", "--", "--check"])?;
    sh(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // Property tests explore new inputs on every local `cargo test`; the
    // suite uses one fixed seed (unless one is given) so a run is repeatable.
    let seed = std::env::var("PROPTEST_RNG_SEED").unwrap_or_else(|_| "20261123".to_string());
    sh_env(
        "cargo",
        &[
            "nextest",
            "run",
            "--workspace",
            // Cedar turns on serde_json's `preserve_order`, and features are
            // unified over one build: built with it, Gavel's crates would be
            // tested with a JSON map they do not ship with. Its own build below.
            "--exclude",
            "gavel-bench-peers",
            "--locked",
            "--no-fail-fast",
            // As the end-to-end tests build the app: one build of Tauri.
            "--features",
            "gavel-desktop/custom-protocol",
            "--profile",
            "ci",
        ],
        &[("PROPTEST_RNG_SEED", &seed)],
    )?;
    // The peer benchmark's agreement check (Cedar, regorus), not its timing.
    sh(
        "cargo",
        &[
            "nextest",
            "run",
            "--locked",
            "-p",
            "gavel-bench-peers",
            "--profile",
            "ci",
        ],
    )?;
    keychain_tests()?;
    desktop::e2e_tests(None, &target_dir(&root).join("e2e-screenshots"))?;
    // Peak memory and time on hostile inputs up to the size limits: in a
    // release build, as users run it (debug is too slow at these sizes).
    sh(
        "cargo",
        &[
            "nextest",
            "run",
            "--release",
            "--locked",
            "-p",
            "gavel-cli",
            "--features",
            "adversarial-tests",
            "--test",
            "adversarial",
            "--profile",
            "ci",
        ],
    )?;
    // nextest does not run doctests.
    sh("cargo", &["test", "--locked", "--doc", "--quiet"])?;
    Ok(())
}

/// Debian packages the tests need, by the command that shows they are there.
const SYSTEM_PACKAGES: [(&str, &str); 8] = [
    ("gnome-keyring-daemon", "gnome-keyring"),
    ("dbus-run-session", "dbus"),
    ("secret-tool", "libsecret-tools"),
    // `tests/audit_verify.py` re-verifies audit exports without Gavel.
    ("python3", "python3"),
    // The registry tests: a real OCI registry on loopback, and skopeo as an
    // independent client reading what Gavel pushed.
    ("docker-registry", "docker-registry"),
    ("skopeo", "skopeo"),
    // The test registry's token server signs its tokens with openssl.
    ("openssl", "openssl"),
    // The agent's /metrics must pass Prometheus's own text-format linter.
    ("promtool", "prometheus"),
];

/// Installs missing system packages with apt-get (as root), or says which
/// to install.
fn system_packages() -> Result<()> {
    let missing: Vec<&str> = SYSTEM_PACKAGES
        .iter()
        .filter(|(cmd, _)| output("sh", &["-c", &format!("command -v {cmd}")]).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    apt_install(&missing)
}

/// `apt-get install` of `missing` as root; otherwise the command to run.
fn apt_install(missing: &[&str]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let root = output("id", &["-u"]).is_some_and(|u| u.trim() == "0");
    if !root {
        bail!(
            "missing system packages: {} (install them with `sudo apt-get install -y {}`, then run this again)",
            missing.join(", "),
            missing.join(" ")
        );
    }
    sh_env(
        "apt-get",
        &["update", "-qq"],
        &[("DEBIAN_FRONTEND", "noninteractive")],
    )?;
    let mut args = vec!["install", "-y", "-qq"];
    args.extend(missing.iter().copied());
    sh_env("apt-get", &args, &[("DEBIAN_FRONTEND", "noninteractive")]).context(
        "apt-get could not install the packages above: install them by hand, then run this again",
    )
}

/// Where cargo puts its output: CARGO_TARGET_DIR when set, else `target/`.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|t| !t.is_empty())
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"))
}

/// Regenerates `ui/src/bindings/` from the Rust types (the test that
/// checks them writes them when `GAVEL_BLESS_BINDINGS` is set).
fn bindings() -> Result<()> {
    sh_env(
        "cargo",
        &[
            "test",
            "--locked",
            "-p",
            "gavel-console",
            "--lib",
            "desktop::tests::typescript_bindings_are_current",
        ],
        &[("GAVEL_BLESS_BINDINGS", "1")],
    )
}

/// The test against the real OS keychain: a private D-Bus session with an
/// unlocked gnome-keyring (Secret Service), as on a desktop. The keyring
/// lives in a directory of its own (`XDG_DATA_HOME`), so another session on
/// the same machine (a second checkout's tests) never shares its file: two
/// daemons writing one keyring file lose each other's entries.
fn keychain_tests() -> Result<()> {
    system_packages()?;
    desktop::in_keyring_session(
        "cargo nextest run --locked -p gavel-cli --features real-keychain-tests --test keychain --test review --test lifecycle --test registry --profile ci",
        &[],
    )
}

/// The README's run command: Gavel's main job on its sample data.
fn run(root: &Path) -> Result<()> {
    setup()?;
    sh(
        "cargo",
        &["build", "--release", "--locked", "--bin", "gavel"],
    )?;
    let target = target_dir(root);
    let gavel = target.join("release/gavel");
    let gavel = gavel.to_str().context("the workspace path is not UTF-8")?;

    println!("\n== The desktop console ==");
    desktop::run_app(root, gavel)?;

    println!("\n== Validating the example bundles ==");
    let mut bundles: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures/bundles"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    bundles.sort();
    for b in &bundles {
        sh(
            gavel,
            &["validate", b.to_str().context("path is not UTF-8")?],
        )?;
    }

    println!("\n== Linting the example bundles ==");
    let mut args = vec!["lint"];
    let names: Vec<String> = bundles
        .iter()
        .filter_map(|b| b.to_str().map(str::to_string))
        .collect();
    args.extend(names.iter().map(String::as_str));
    sh(gavel, &args)?;

    println!("\n== Running each example bundle's policy tests ==");
    for b in &bundles {
        let stem = b
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let cases = root
            .join("fixtures/tests")
            .join(format!("{stem}.cases.json"));
        sh(
            gavel,
            &[
                "test",
                b.to_str().context("path is not UTF-8")?,
                cases.to_str().context("path is not UTF-8")?,
            ],
        )?;
    }

    println!("\n== Simulating 100,000 synthetic cases over fixtures/bundles/inbox-triage.yaml ==");
    sh(
        gavel,
        &[
            "sim",
            "fixtures/bundles/inbox-triage.yaml",
            "--dataset",
            "synthetic",
            "--count",
            "100000",
        ],
    )?;

    println!("\n== Evaluating the example workflow scorecards (fixtures/governance) ==");
    sh(
        gavel,
        &[
            "scorecard",
            "eval",
            "fixtures/governance/scorecards",
            "--policy",
            "fixtures/governance/policy.yaml",
            "--no-log",
        ],
    )?;

    println!("\n== Deciding the nine curated cases against fixtures/sim/bundle.yaml ==");
    let path = root.join("fixtures/sim/cases.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let cases: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a list of cases", path.display()))?;
    let mut agree = 0;
    for mut case in cases.clone() {
        let field = |case: &mut serde_json::Map<String, serde_json::Value>, name: &str| {
            case.remove(name)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let id = field(&mut case, "case_id");
        let expected = field(&mut case, "expected_effect");
        let request = serde_json::Value::Object(case).to_string();
        let out = Command::new(gavel)
            .args([
                "decide",
                "--bundle",
                "fixtures/sim/bundle.yaml",
                "--request",
                "-",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(request.as_bytes())?;
                }
                child.wait_with_output()
            })
            .context("cannot run gavel decide")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next().unwrap_or_default();
        let effect = first.split_whitespace().next().unwrap_or_default();
        let mark = if effect == expected {
            agree += 1;
            "ok      "
        } else {
            "MISMATCH"
        };
        println!("{mark} {id:<36} expected {expected:<15} got {first}");
    }
    println!(
        "\n{agree} of {} curated cases decided as expected",
        cases.len()
    );
    if agree != cases.len() {
        bail!("some curated cases were not decided as expected");
    }
    Ok(())
}
