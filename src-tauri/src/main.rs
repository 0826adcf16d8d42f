//! The `gavel-desktop` binary: Gavel's desktop console (see `lib.rs`).

// No console window on Windows in release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    gavel_desktop::run();
}
