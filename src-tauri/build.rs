//! Tauri's build step: the app's configuration, icons and capabilities.

fn main() {
    tauri_build::build();
}
