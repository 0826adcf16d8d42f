//! The desktop app's part of `run` and `test`: the front end (npm), the
//! system packages the Tauri build and its end-to-end tests need, Xvfb for
//! a machine without a display, and the WebDriver tests on the real app.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{output, sh, sh_env};

/// The oldest Node.js the front end builds with.
const MIN_NODE: u32 = 20;

/// Debian packages of the desktop build and its tests, each with a check
/// that shows it is there (`pkg-config` for libraries, else a command).
const DESKTOP_PACKAGES: [(&str, &str); 9] = [
    (
        "pkg-config --exists webkit2gtk-4.1",
        "libwebkit2gtk-4.1-dev",
    ),
    ("pkg-config --exists gtk+-3.0", "libgtk-3-dev"),
    (
        "pkg-config --exists ayatana-appindicator3-0.1",
        "libayatana-appindicator3-dev",
    ),
    ("pkg-config --exists librsvg-2.0", "librsvg2-dev"),
    ("command -v WebKitWebDriver", "webkit2gtk-driver"),
    ("command -v Xvfb", "xvfb"),
    ("command -v xwd", "x11-apps"),
    // ImageMagick itself: a `convert` that is something else (a stand-in
    // earlier on PATH that hands calls on to ImageMagick when it is there)
    // does not count.
    (
        "convert -version 2>/dev/null | grep -q ImageMagick",
        "imagemagick",
    ),
    ("command -v pkg-config", "pkg-config"),
];

/// Installs the desktop build's system packages with apt-get (as root), or
/// says which to install.
pub fn packages() -> Result<()> {
    let missing: Vec<&str> = DESKTOP_PACKAGES
        .iter()
        .filter(|(check, _)| output("sh", &["-c", check]).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    crate::apt_install(&missing)
}

/// Node.js and npm, new enough.
fn check_node() -> Result<()> {
    let version = output("node", &["--version"]).context(
        "Node.js is missing: install Node.js 20 or newer (https://nodejs.org, or `apt-get install nodejs npm`), then run this again",
    )?;
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < MIN_NODE {
        bail!(
            "Node.js {} is too old: the front end needs {MIN_NODE} or newer",
            version.trim()
        );
    }
    output("npm", &["--version"]).context("npm is missing: install it with Node.js")?;
    Ok(())
}

/// Installs the front end's packages (exactly the lock file's) and builds
/// `ui/dist`, which the app embeds.
pub fn build_front_end(root: &Path) -> Result<()> {
    check_node()?;
    let ui = root.join("ui");
    let ui = ui.to_str().context("the workspace path is not UTF-8")?;
    if !root.join("ui/node_modules").exists() || std::env::var_os("CI").is_some() {
        sh("npm", &["ci", "--prefix", ui, "--no-audit", "--no-fund"])?;
    }
    sh("npm", &["run", "--prefix", ui, "build"])
}

/// The front end's own checks: types, lint and unit tests.
pub fn check_front_end(root: &Path) -> Result<()> {
    let ui = root.join("ui");
    let ui = ui.to_str().context("the workspace path is not UTF-8")?;
    sh("npm", &["run", "--prefix", ui, "typecheck"])?;
    sh("npm", &["run", "--prefix", ui, "lint"])?;
    sh("npm", &["run", "--prefix", ui, "test"])
}

/// `tauri-driver`, the WebDriver server for Tauri apps.
fn tauri_driver() -> Result<()> {
    if output("tauri-driver", &["--help"]).is_none() {
        sh(
            "cargo",
            &["install", "tauri-driver", "--version", "^2", "--locked"],
        )?;
    }
    Ok(())
}

/// The app binary cargo built for `profile` (`debug` or `release`).
pub fn app_binary(root: &Path, profile: &str) -> PathBuf {
    crate::target_dir(root).join(profile).join("gavel-desktop")
}

/// A D-Bus session with an unlocked gnome-keyring whose keyring lives in a
/// directory of its own, running `script` (see `keychain_tests`).
pub fn in_keyring_session(script: &str, env: &[(&str, &str)]) -> Result<()> {
    let wrapped = format!(
        "XDG_DATA_HOME=$(mktemp -d) && export XDG_DATA_HOME && trap 'rm -rf \"$XDG_DATA_HOME\"' EXIT \
         && mkdir -p \"$XDG_DATA_HOME/keyrings\" \
         && echo -n test | gnome-keyring-daemon --unlock --replace --daemonize --components=secrets >/dev/null \
         && {script}"
    );
    sh_env("dbus-run-session", &["--", "sh", "-c", &wrapped], env)
}

/// What WebKit needs in a container without a GPU.
const WEBKIT_ENV: [(&str, &str); 2] = [
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("LIBGL_ALWAYS_SOFTWARE", "1"),
];

/// The end-to-end tests: the app built with its front end embedded, driven
/// through tauri-driver and WebKitWebDriver, each test's app on an Xvfb of
/// its own, with a real Secret Service for its keys. `filter` picks tests
/// (a nextest filter expression); `screenshots` is where they save their
/// pictures.
pub fn e2e_tests(filter: Option<&str>, screenshots: &Path) -> Result<()> {
    packages()?;
    crate::system_packages()?;
    tauri_driver()?;
    let shots = screenshots
        .to_str()
        .context("the target path is not UTF-8")?;
    let mut command = String::from(
        "cargo nextest run --locked -p gavel-desktop --features e2e-tests,custom-protocol --test e2e --profile ci",
    );
    if let Some(f) = filter {
        command.push_str(&format!(" -E '{f}'"));
    }
    let mut env = vec![("GAVEL_E2E_SCREENSHOTS", shots)];
    env.extend(WEBKIT_ENV);
    in_keyring_session(&command, &env)
}

/// `cargo xtask measure`: the release app's performance figures (cold
/// start, idle memory, lint round trip and keystrokes at 10,000 rules).
pub fn measure(root: &Path) -> Result<()> {
    packages()?;
    crate::system_packages()?;
    tauri_driver()?;
    build_front_end(root)?;
    in_keyring_session(
        "cargo test --release --locked -p gavel-desktop --features measure,custom-protocol --test measure",
        &WEBKIT_ENV,
    )
}

/// The desktop part of `cargo xtask run`: the release app on a demo data
/// directory with the examples loaded; without a display, a tour of the
/// main screens under Xvfb whose screenshots land in `target/screenshots/`.
pub fn run_app(root: &Path, gavel: &str) -> Result<()> {
    packages()?;
    build_front_end(root)?;
    sh(
        "cargo",
        &[
            "build",
            "--release",
            "--locked",
            "-p",
            "gavel-desktop",
            "--features",
            "custom-protocol",
        ],
    )?;
    let target = crate::target_dir(root);
    let bin = app_binary(root, "release");
    let has_display = std::env::var("DISPLAY").is_ok_and(|d| !d.is_empty());
    if has_display {
        let home = target.join("demo-home");
        let _ = std::fs::remove_dir_all(&home);
        let home_str = home.to_str().context("the target path is not UTF-8")?;
        sh_env(gavel, &["init", "--examples"], &[("GAVEL_HOME", home_str)])?;
        Command::new(&bin)
            .env("GAVEL_HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        println!(
            "\nGavel's desktop console is open on {} (the example bundles loaded).",
            home.display()
        );
        return Ok(());
    }
    println!("\n== No display: a tour of the desktop app under Xvfb ==");
    crate::system_packages()?;
    tauri_driver()?;
    let shots = target.join("screenshots");
    std::fs::create_dir_all(&shots)?;
    let shots_str = shots.to_str().context("the target path is not UTF-8")?;
    let mut env = vec![("GAVEL_E2E_SCREENSHOTS", shots_str)];
    env.extend(WEBKIT_ENV);
    in_keyring_session(
        "cargo test --release --locked -p gavel-desktop --features e2e-tests,custom-protocol --test e2e -- --exact tour_of_the_main_screens",
        &env,
    )?;
    let mut names: Vec<_> = std::fs::read_dir(&shots)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("tour-"))
        })
        .collect();
    names.sort();
    println!("\nScreenshots of the main screens:");
    for n in names {
        println!("  {}", n.display());
    }
    Ok(())
}
