//! End-to-end tests of the desktop app: the real binary, with its front end
//! embedded, driven through tauri-driver and WebKitWebDriver under Xvfb,
//! with its keys in a real Secret Service (`cargo xtask test` sets all of
//! this up). Elements are found by their accessible labels. Each test
//! saves screenshots under `target/e2e-screenshots/`.

// Shared with the `measure` benchmark, which uses other parts of it.
#[allow(dead_code)]
mod driver;
mod governance;
mod team;
mod updater;

use driver::{App, BACKSPACE, CONTROL, DOWN, END, HOME};
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

/// Goes to the end of 1-based `line` with the keyboard (Ctrl+Home, Down,
/// End), deletes `erase` characters and types `text` there.
fn edit_line_end(app: &App, line: usize, erase: usize, text: &str) {
    let content = app.find(".cm-content");
    app.click(&content);
    let keys = format!(
        "{CONTROL}{HOME}{CONTROL}{}{END}{}{text}",
        DOWN.to_string().repeat(line - 1),
        BACKSPACE.to_string().repeat(erase)
    );
    app.type_into(&content, &keys);
}

/// The 1-based line of the first line of `file` (a fixture) that starts,
/// after its indentation, with `start`, at or after line `from`.
fn fixture_line(file: &str, from: usize, start: &str) -> usize {
    let text = std::fs::read_to_string(fixture(file)).expect("fixture");
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.trim_start().starts_with(start))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("no `{start}` in {file}"))
}

fn fixture(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/bundles")
        .join(file)
}

/// Saves the editor's text as the first identity of the store (the first
/// save asks who acts), and waits for `notice`.
fn save_as_ada(app: &App, notice: &str) {
    app.press("Save");
    app.fill("Name", "Ada Lovelace");
    app.fill("Email", "ada@example.com");
    app.press("Create identity");
    app.wait_for(notice, || app.page_text().contains(notice).then_some(()));
}

/// Makes inbox-triage@1.0.1 from the example 1.0.0 in the editor: the
/// phishing deny rule becomes an allow (a loosening), saved as a new draft.
fn save_loosened_version(app: &App) {
    open_in_editor(app, "inbox-triage", "inbox-triage@1.0.0");
    let version = fixture_line("inbox-triage.yaml", 1, "version:");
    edit_line_end(app, version, 1, "1");
    let rule = fixture_line("inbox-triage.yaml", 1, "- id: deny-release-phishing");
    let effect = fixture_line("inbox-triage.yaml", rule, "effect:");
    edit_line_end(app, effect, 4, "allow");
    save_as_ada(app, "Saved as new draft inbox-triage@1.0.1");
}

/// What Rust computes for the same run: the numbers the screen must show.
fn expected_simulation(file: &str, count: u64, seed: u64) -> gavel_console::desktop::SimOutcome {
    let text = std::fs::read_to_string(fixture(file)).expect("fixture");
    let bundle = gavel_policy::parse_bundle(&text, gavel_policy::Format::Yaml).expect("bundle");
    gavel_console::desktop::simulate_bundle(
        &bundle,
        &gavel_console::desktop::DatasetSpec::Synthetic { count, seed },
        &|_| {},
        &std::sync::atomic::AtomicBool::new(false),
    )
    .expect("simulation")
}

fn count(app: &App, label: &str) -> Option<u64> {
    app.text_of(label)?.replace(',', "").trim().parse().ok()
}

/// The line number shown beside the first inline error marker, if one is
/// shown (what a user reads in the gutter).
fn inline_error_line(app: &App) -> Option<u64> {
    app.script(
        "const m = document.querySelector('.cm-gutter-lint .cm-lint-marker-error');
         if (!m) return null;
         const top = m.closest('.cm-gutterElement').getBoundingClientRect().top;
         const n = [...document.querySelectorAll('.cm-lineNumbers .cm-gutterElement')]
           .find(e => Math.abs(e.getBoundingClientRect().top - top) < 2);
         return n ? Number(n.textContent) : null;",
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
fn a_store_with_versions_opens_on_the_bundle_list() {
    let app = App::start_in("reopen", driver::home_with_examples());
    app.label("Bundle inbox-triage");
    assert!(app.all("[aria-label=\"Load example bundles\"]").is_empty());
    app.screenshot("reopen");
}

#[test]
fn a_store_that_cannot_be_opened_is_explained() {
    // GAVEL_HOME names a file: there is no directory to keep the store in.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "x").expect("file");
    let app = App::start_with_home_path("broken-home", dir, &file);
    app.wait_for("the error", || {
        let text = app.page_text();
        (text.contains("cannot open its store") && text.contains("GAVEL_HOME")).then_some(())
    });
    assert!(
        !app.page_text().contains("Problems panel"),
        "a hint for another error"
    );
    app.label("Try again");
    app.screenshot("store-error");
}

#[test]
fn a_lint_error_shows_inline_and_in_problems_and_a_fixed_draft_saves() {
    let app = with_examples("lint-save");
    open_in_editor(&app, "inbox-triage", "inbox-triage@1.0.0");
    // Examples are drafts: editable. Break the first rule's effect.
    let rule = fixture_line("inbox-triage.yaml", 1, "- id:");
    let line = fixture_line("inbox-triage.yaml", rule, "effect:");
    edit_line_end(&app, line, 0, "x");
    let shown = app.wait_for("an inline lint error", || inline_error_line(&app));
    app.screenshot("editor-lint-error");
    assert_eq!(
        shown, line as u64,
        "the error is shown at line {shown}, the edit was on line {line}"
    );
    // The problems panel lists it at that line, and takes the cursor there.
    app.press("Bundles");
    app.press("Editor");
    app.press(&format!("Problem at line {line}: invalid-rule"));
    app.wait_for("the cursor on the problem's line", || {
        app.page_text()
            .contains(&format!("Ln {line},"))
            .then_some(())
    });
    app.screenshot("editor-lint-error");
    // Saving is refused while the error stands.
    app.press("Save");
    app.wait_for("the save to be refused", || {
        app.page_text().contains("not saved").then_some(())
    });
    // Fix it: the effect becomes `deny` (a real change to the draft).
    edit_line_end(&app, line, 6, "deny");
    app.wait_for("the inline error to go", || {
        inline_error_line(&app).is_none().then_some(())
    });
    // The first save asks who is acting; then it goes on.
    save_as_ada(&app, "Saved inbox-triage@1.0.0");
    app.wait_for("the header to name the acting identity", || {
        app.page_text().contains("Ada Lovelace").then_some(())
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
fn a_simulation_shows_the_counts_rust_computes() {
    let app = with_examples("simulate");
    app.press("Simulator");
    app.select("Version", "inbox-triage@1.0.0");
    app.select("Dataset", "Synthetic");
    app.fill("Case count", "5000");
    app.fill("Seed", "42");
    app.press("Run simulation");
    let want = expected_simulation("inbox-triage.yaml", 5000, 42)
        .report
        .summary;
    app.wait_for("the allow count", || {
        (count(&app, "Allow count")? == want.allow_count as u64).then_some(())
    });
    assert_eq!(count(&app, "Deny count"), Some(want.deny_count as u64));
    assert_eq!(
        count(&app, "Approval count"),
        Some(want.approval_count as u64)
    );
    assert_eq!(
        count(&app, "No match count"),
        Some(want.no_match_count as u64)
    );
    app.screenshot("simulator");
}

#[test]
fn a_new_version_compared_with_the_previous_lists_the_changed_cases() {
    let app = with_examples("compare");
    save_loosened_version(&app);
    app.press("Simulator");
    app.select("Version", "inbox-triage@1.0.1");
    app.select("Dataset", "Synthetic");
    app.fill("Case count", "2000");
    app.fill("Seed", "7");
    app.press("Compare with another version");
    app.select("Compare against", "inbox-triage@1.0.0");
    app.press("Run simulation");
    let changed = app.wait_for("the changed cases", || count(&app, "Changed cases"));
    assert!(changed > 0, "the loosened rule changes some decisions");
    // Every listed change is the phishing rule's deny become allow.
    let rows = app.all("[aria-label^=\"Changed case \"]");
    assert!(!rows.is_empty());
    let first = app.text(&rows[0]);
    assert!(first.contains("deny") && first.contains("allow"), "{first}");
    app.screenshot("simulator-compare");
}

#[test]
fn the_diff_of_two_versions_classes_each_change() {
    let app = with_examples("diff");
    save_loosened_version(&app);
    app.press("Diff");
    app.select("Old version", "inbox-triage@1.0.0");
    app.select("New version", "inbox-triage@1.0.1");
    let class = app.wait_for("the class of the changed rule", || {
        app.text_of("Class of deny-release-phishing")
    });
    assert_eq!(class.trim(), "loosening");
    let suggested = app.wait_for("the suggested version", || app.text_of("Suggested version"));
    assert!(suggested.contains("2.0.0"), "{suggested}");
    app.screenshot("diff");
}

#[test]
fn a_long_simulation_can_be_cancelled() {
    let app = with_examples("cancel");
    app.press("Simulator");
    app.select("Version", "inbox-triage@1.0.0");
    app.select("Dataset", "Synthetic");
    app.fill("Case count", "10000000");
    app.press("Run simulation");
    let bar = app.find("[role=\"progressbar\"]");
    // Progress arrives while it runs, out of the 10 million cases.
    app.wait_for("progress", || {
        let done: u64 = app.attr(&bar, "aria-valuenow")?.parse().ok()?;
        (done > 0 && done < 10_000_000).then_some(())
    });
    assert_eq!(app.attr(&bar, "aria-valuemax").as_deref(), Some("10000000"));
    app.screenshot("simulator-running");
    app.press("Cancel run");
    app.wait_for("the run to end as cancelled", || {
        app.page_text().contains("Cancelled").then_some(())
    });
    assert!(app.all("[role=\"progressbar\"]").is_empty());
}

/// The main screens one after another, each screenshotted: what `cargo
/// xtask run` shows on a machine without a display (and the README's
/// pictures).
#[test]
fn tour_of_the_main_screens() {
    let app = with_examples("tour");
    app.press("Bundle inbox-triage");
    app.label("History");
    app.screenshot("tour-1-bundles");
    save_loosened_version(&app);
    app.wait_for("the save notice to go", || {
        (!app.page_text().contains("Saved as new draft")).then_some(())
    });
    app.screenshot("tour-2-editor");
    app.press("Add rule");
    app.fill("Rule id", "escalate-legal-threats");
    app.fill("Agent", "inbox.triage");
    app.fill("Action", "escalate");
    app.fill("Reason", "Legal threats go to a person before any reply");
    app.screenshot("tour-3-rule-builder");
    app.press("Close rule builder");
    app.press("Diff");
    app.select("Old version", "inbox-triage@1.0.0");
    app.select("New version", "inbox-triage@1.0.1");
    app.wait_for("the diff", || app.text_of("Class of deny-release-phishing"));
    app.screenshot("tour-4-diff");
    app.press("Simulator");
    app.select("Version", "inbox-triage@1.0.1");
    app.select("Dataset", "Synthetic");
    app.fill("Case count", "20000");
    app.press("Run simulation");
    app.wait_for("the counts", || count(&app, "Allow count"));
    app.screenshot("tour-5-simulator");
    app.press("Compare with another version");
    app.select("Compare against", "inbox-triage@1.0.0");
    app.press("Run simulation");
    let changed = app.wait_for("the changed cases", || count(&app, "Changed cases"));
    assert!(changed > 0);
    app.screenshot("tour-6-compare");
}

/// At 1024×700, the smallest size the app promises, no screen scrolls the
/// window sideways and the main controls stay in view.
#[test]
fn every_main_screen_fits_1024_by_700() {
    let app = App::start_in("small", driver::home_with_examples());
    app.resize(1024, 700);
    let fits = |screen: &str| {
        app.wait_for(&format!("{screen} to fit"), || {
            let v = app.script(
                "const d = document.documentElement;
                 return [d.scrollWidth, d.clientWidth, window.innerWidth, window.innerHeight];",
                json!([]),
            );
            let n = |i: usize| v[i].as_u64().unwrap_or(0);
            (n(2) <= 1024 && n(3) <= 700 && n(0) <= n(1)).then_some(())
        });
        app.screenshot(&format!("small-{screen}"));
    };
    app.press("Bundle inbox-triage");
    fits("bundles");
    app.press("Open in editor");
    app.find(".cm-content");
    app.label("Save");
    fits("editor");
    app.press("Diff");
    app.select("New version", "inbox-triage@1.0.0");
    fits("diff");
    app.press("Simulator");
    app.select("Version", "inbox-triage@1.0.0");
    app.press("Run simulation");
    app.wait_for("the counts", || count(&app, "Allow count"));
    app.label("Run simulation");
    fits("simulator");
    // The governance screens, each with its main controls on screen.
    for (screen, control) in [
        ("Approvals", "Refresh inbox"),
        ("Rollouts", "Refresh rollouts"),
        ("Scorecards", "Use example policy"),
        ("Overrides", "Verify override"),
        ("Audit", "Verify audit log"),
        ("Keys", "Generate identity"),
        ("Settings", "Save update settings"),
    ] {
        app.press(screen);
        app.label(control);
        fits(&screen.to_lowercase());
    }
}

/// A version past draft opens read-only; "New version from this" gives an
/// editable copy with the next version.
#[test]
fn a_submitted_version_is_read_only_and_a_new_version_starts_from_it() {
    let home = driver::home_with_examples_and(&["inbox-triage@1.0.0"]);
    let app = App::start_in("read-only", home);
    open_in_editor(&app, "inbox-triage", "inbox-triage@1.0.0");
    app.label("New version from this");
    app.wait_for("the read-only banner", || {
        app.page_text().contains("read-only").then_some(())
    });
    // The editor takes no typing.
    let content = app.find(".cm-content");
    assert_eq!(
        app.attr(&content, "contenteditable").as_deref(),
        Some("false")
    );
    app.screenshot("read-only");
    app.press("New version from this");
    app.wait_for("the copy at 1.0.1", || {
        editor_text(&app)
            .contains("version: \"1.0.1\"")
            .then_some(())
    });
    // The copy is editable, and saved as a new draft.
    let content = app.find(".cm-content");
    assert_eq!(
        app.attr(&content, "contenteditable").as_deref(),
        Some("true")
    );
    // The store's one identity is the author.
    app.press("Save");
    app.wait_for("the new draft", || {
        app.page_text()
            .contains("Saved as new draft inbox-triage@1.0.1")
            .then_some(())
    });
}

/// The governance commands behind the coming approvals screens, called as
/// the front end calls them (`invoke`, arguments by their camelCase
/// names): submit, the inbox, a refused self-approval by its code.
#[test]
fn the_approval_commands_answer_the_front_end() {
    let app = App::start_in("approval-commands", driver::home_with_examples_and(&[]));
    app.label("Bundle inbox-triage");
    let out = app.script_async(
        "const done = arguments[0];
         const invoke = window.__TAURI_INTERNALS__.invoke;
         (async () => {
           await invoke('create_identity', {name: 'Ada', email: 'ada@example.com'});
           const text = (await invoke('show_version', {reference: 'inbox-triage@1.0.0'})).document
             .replace('version: 1.0.0', 'version: 1.0.1');
           await invoke('save_draft', {document: text, fileName: 'b.yaml', reference: null, notes: null});
           const submitted = await invoke('submit', {reference: 'inbox-triage@1.0.1'});
           const inbox = await invoke('inbox');
           let refusal = null;
           try {
             await invoke('decide', {reference: 'inbox-triage@1.0.1', environment: 'staging',
               decision: 'approve', comment: 'my own work looks fine'});
           } catch (e) { refusal = e.code; }
           const status = await invoke('status', {bundle: 'inbox-triage', environment: 'staging'});
           const review = await invoke('review', {reference: 'inbox-triage@1.0.1', environment: 'staging'});
           done({submitted: submitted.reference, me: inbox.me, mine: inbox.submitted.length,
                 awaiting: inbox.awaiting.length, refusal,
                 pending: status.environments[0].bundles[0].pending[0].needs,
                 review: [review.author, review.active, review.tally.required, review.cases > 0]});
         })().catch(e => done({error: e}));",
        json!([]),
    );
    assert_eq!(
        out,
        json!({"submitted": "inbox-triage@1.0.1", "me": "Ada", "mine": 3, "awaiting": 0,
               "refusal": "author_cannot_approve", "pending": 1,
               "review": ["Ada", null, 1, true]}),
    );
}

/// An approver reviews a submitted version in the Approvals screen and
/// approves it for staging, signed with the key in the keychain.
#[test]
fn an_approver_reviews_and_approves_from_the_inbox() {
    let app = App::start_in("approve", driver::home_with_examples());
    app.label("Bundle inbox-triage");
    let ready = app.script_async(
        "const done = arguments[0];
         const invoke = window.__TAURI_INTERNALS__.invoke;
         (async () => {
           await invoke('create_identity', {name: 'Ada', email: 'ada@example.com'});
           await invoke('submit', {reference: 'inbox-triage@1.0.0'});
           done(true);
         })().catch(e => done(e));",
        json!([]),
    );
    assert_eq!(ready, json!(true));
    app.press("Approvals");
    app.press("Refresh inbox");
    app.press("Review inbox-triage@1.0.0 in staging");
    let needed = app.wait_for("the approvals needed", || app.text_of("Approvals needed"));
    assert_eq!(needed.trim(), "1");
    app.fill("Comment", "Reviewed the impact: fine for staging");
    app.screenshot("approvals-review");
    app.press("Approve");
    app.wait_for("the approval", || {
        let text = app.page_text();
        text.contains("approvals now 1 of 1").then_some(())
    });
    app.screenshot("approvals-approved");
}
