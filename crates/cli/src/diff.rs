//! `gavel diff OLD NEW` and `gavel version suggest OLD NEW`.

use std::fmt::Write as _;
use std::process::ExitCode;

use gavel_policy::{Diff, diff};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::load_bundle;

/// 0 done (whatever changed), 2 bad input.
pub fn run(old: &str, new: &str, format: OutputFormat) -> Result<ExitCode, Failure> {
    let d = diff(&load_bundle(old)?, &load_bundle(new)?);
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&d).unwrap_or_default()),
        _ => print!("{}", text(&d)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints only the suggested next version (as text), or `{current_version,
/// suggested_version, bump, class}` (as JSON).
pub fn suggest(old: &str, new: &str, format: OutputFormat) -> Result<ExitCode, Failure> {
    let (old_bundle, new_bundle) = (load_bundle(old)?, load_bundle(new)?);
    let d = diff(&old_bundle, &new_bundle);
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "current_version": old_bundle.metadata.version,
                "suggested_version": d.suggested_version,
                "bump": d.bump.as_str(),
                "class": d.class,
            })
        ),
        _ => println!("{}", d.suggested_version),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn text(d: &Diff) -> String {
    let mut out = String::new();
    for a in &d.added {
        let _ = writeln!(out, "+ added    {} ({}, {})", a.id, a.effect, a.class);
    }
    for r in &d.removed {
        let _ = writeln!(out, "- removed  {} ({}, {})", r.id, r.effect, r.class);
    }
    for m in &d.modified {
        let _ = writeln!(out, "~ modified {} ({})", m.id, m.class);
        for c in &m.changes {
            let _ = writeln!(out, "    {}: {} -> {}", c.field, c.before, c.after);
        }
    }
    for m in &d.metadata_changes {
        let _ = writeln!(
            out,
            "~ metadata.{}: {} -> {} ({})",
            m.field, m.before, m.after, m.class
        );
    }
    let _ = writeln!(
        out,
        "{} added, {} removed, {} modified, {} unchanged",
        d.added.len(),
        d.removed.len(),
        d.modified.len(),
        d.unchanged
    );
    let _ = writeln!(
        out,
        "class: {}; bump: {}; suggested version: {}",
        d.class,
        d.bump.as_str(),
        d.suggested_version
    );
    out
}
