//! End-to-end tests of the desktop app: the real binary, with its front end
//! embedded, driven through tauri-driver and WebKitWebDriver under Xvfb,
//! with its keys in a real Secret Service (`cargo xtask test` sets all of
//! this up). Elements are found by their accessible labels. Each test
//! saves screenshots under `target/e2e-screenshots/`.

mod driver;

use driver::App;
use serde_json::json;

/// A first run: the welcome screen, then the example bundles loaded.
fn with_examples(name: &str) -> App {
    let app = App::start(name);
    app.label("Load example bundles");
    app.screenshot("welcome");
    app.press("Load example bundles");
    app.label("Bundle inbox-triage");
    app
}

/// Opens `reference` (NAME@VERSION) in the editor from the bundle list.
fn open_in_editor(app: &App, name: &str, reference: &str) {
    app.press("Bundles");
    app.press(&format!("Bundle {name}"));
    app.press(reference);
    app.press("Open in editor");
    app.find(".cm-content");
}

/// The editor's whole text, as CodeMirror holds it.
fn editor_text(app: &App) -> String {
    app.script(
        "const c = document.querySelector('.cm-content');
         return c ? [...c.querySelectorAll('.cm-line')].map(l => l.textContent).join('\\n') : '';",
        json!([]),
    )
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Puts the cursor at the end of 1-based `line` and types `text` there, as
/// keystrokes into the editor.
fn type_at_line_end(app: &App, line: usize, text: &str) {
    let placed = app.script(
        "const lines = document.querySelectorAll('.cm-content .cm-line');
         const l = lines[arguments[0] - 1];
         if (!l) return false;
         const r = document.createRange();
         r.selectNodeContents(l); r.collapse(false);
         const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
         document.querySelector('.cm-content').focus();
         return true;",
        json!([line]),
    );
    assert_eq!(placed, json!(true), "no line {line} in the editor");
    let content = app.find(".cm-content");
    app.type_into(&content, text);
}

/// The 1-based line of the first inline error, if one is shown.
fn inline_error_line(app: &App) -> Option<u64> {
    app.script(
        "const r = document.querySelector('.cm-content .cm-lintRange-error');
         if (!r) return null;
         const line = r.closest('.cm-line');
         return [...document.querySelectorAll('.cm-content .cm-line')].indexOf(line) + 1;",
        json!([]),
    )
    .as_u64()
}

#[test]
fn first_run_loads_the_examples_and_lists_every_bundle() {
    let app = App::start("first-run");
    app.label("Load example bundles");
    let welcome = app.page_text();
    assert!(welcome.contains("Gavel"), "{welcome}");
    app.press("Load example bundles");
    for name in [
        "budgets",
        "deployment-safety",
        "inbox-triage",
        "knowledge-management",
        "progressive-thresholds",
        "two-approver",
        "weekday-only",
    ] {
        app.label(&format!("Bundle {name}"));
    }
    // Search narrows the list.
    app.fill("Search bundles", "inbox");
    app.wait_for("the search to leave one bundle", || {
        (app.all("[aria-label^=\"Bundle \"][aria-label$=\"triage\"]")
            .len()
            == 1
            && app.all("[aria-label=\"Bundle budgets\"]").is_empty())
        .then_some(())
    });
    app.fill("Search bundles", "");
    app.label("Bundle budgets");
    app.press("Bundle inbox-triage");
    let history = app.label("History");
    app.wait_for("the history to name the example load", || {
        app.text(&history).contains("bundle.create").then_some(())
    });
    app.screenshot("bundles");
}

#[test]
fn a_lint_error_shows_inline_and_in_problems_and_a_fixed_draft_saves() {
    let app = with_examples("lint-save");
    open_in_editor(&app, "inbox-triage", "inbox-triage@1.0.0");
    // Examples are drafts: editable. Break the first rule's effect.
    let text = editor_text(&app);
    let (line, _) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim_start().starts_with("effect:"))
        .expect("an effect line");
    let line = line + 1;
    type_at_line_end(&app, line, "x");
    let shown = app.wait_for("an inline lint error", || inline_error_line(&app));
    assert!(
        shown.abs_diff(line as u64) <= 6,
        "the error is shown at line {shown}, the edit was on line {line}"
    );
    let problem = app.find("[aria-label^=\"Problem at line\"]");
    let label = app.attr(&problem, "aria-label").unwrap_or_default();
    assert!(label.contains(&format!("line {shown}")), "{label}");
    app.screenshot("editor-lint-error");
    // Saving is refused while the error stands.
    app.press("Save");
    app.wait_for("the save to be refused", || {
        app.page_text().contains("not saved").then_some(())
    });
    // Fix it: remove the typed character.
    let content = app.find(".cm-content");
    app.type_into(&content, "\u{E003}");
    app.wait_for("the inline error to go", || {
        inline_error_line(&app).is_none().then_some(())
    });
    app.press("Save");
    // The first save asks who is acting.
    app.fill("Name", "Ada Lovelace");
    app.fill("Email", "ada@example.com");
    app.press("Create identity");
    app.wait_for("the draft to be saved", || {
        app.page_text()
            .to_lowercase()
            .contains("saved")
            .then_some(())
    });
    app.screenshot("editor-saved");
}

#[test]
fn the_rule_builder_writes_yaml_into_the_document() {
    let app = with_examples("rule-builder");
    open_in_editor(&app, "inbox-triage", "inbox-triage@1.0.0");
    app.press("Add rule");
    app.fill("Rule id", "escalate-legal-threats");
    app.fill("Agent", "inbox.triage");
    app.fill("Action", "escalate");
    app.select("Effect", "needs_approval");
    app.fill("Priority", "70");
    app.fill("Reason", "Legal threats go to a person before any reply");
    app.press("Add condition");
    app.fill("Condition field 1", "category");
    app.select("Condition operator 1", "in");
    app.fill("Condition value 1", "legal, threat");
    app.screenshot("rule-builder");
    app.press("Insert rule");
    app.wait_for("the rule in the YAML", || {
        let text = editor_text(&app);
        (text.contains("escalate-legal-threats") && text.contains("in:category")).then_some(text)
    });
    app.wait_for("the new rule to lint clean", || {
        inline_error_line(&app).is_none().then_some(())
    });
}

#[test]
fn a_simulation_reports_its_counts_and_a_comparison_lists_changed_cases() {
    let app = with_examples("simulate");
    app.press("Simulator");
    app.select("Version", "inbox-triage@1.0.0");
    app.select("Dataset", "Synthetic");
    app.fill("Case count", "5000");
    app.fill("Seed", "42");
    app.press("Run simulation");
    let allow = app.label("Allow count");
    let counts = app.wait_for("the counts", || {
        let n: u64 = app.text(&allow).replace(',', "").trim().parse().ok()?;
        Some(n)
    });
    let deny: u64 = app
        .text(&app.label("Deny count"))
        .replace(',', "")
        .trim()
        .parse()
        .expect("a deny count");
    assert!(
        counts + deny <= 5000 && counts + deny > 0,
        "{counts} + {deny}"
    );
    app.screenshot("simulator");
}

#[test]
fn a_long_simulation_can_be_cancelled() {
    let app = with_examples("cancel");
    app.press("Simulator");
    app.select("Version", "inbox-triage@1.0.0");
    app.select("Dataset", "Synthetic");
    app.fill("Case count", "10000000");
    app.press("Run simulation");
    app.find("[role=\"progressbar\"]");
    app.screenshot("simulator-running");
    app.press("Cancel run");
    app.wait_for("the run to end as cancelled", || {
        app.page_text().contains("Cancelled").then_some(())
    });
    assert!(app.all("[role=\"progressbar\"]").is_empty());
}
