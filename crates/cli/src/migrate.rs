//! `gavel migrate applylens|menace FILE`: rewrites a file of one of the two
//! seed projects into a Gavel bundle (ApplyLens rule lists) or a Gavel
//! governance policy (menace deployment policies), and lists every change
//! it made, each with where it was made, so that a team can review what
//! moved before it adopts the result.
//!
//! The rewrite keeps the seed's decisions where Gavel can express them
//! (the seed engine's defaults, its priority order, its reading of a bare
//! number as "at least"); what Gavel cannot express the same way is refused
//! with exit 2 and a message saying what to change. Nothing is written
//! unless the whole file migrates and the result loads in Gavel.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gavel_policy::doc::{Key, Location, Node, NodeValue, pointer_token};
use gavel_policy::{Bundle, Diagnostic, Format, STANDARD_ACTIONS, is_path};
use serde::Serialize;

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;

#[derive(Debug, Clone, Subcommand)]
pub enum MigrateCommand {
    /// Rewrite an ApplyLens rule list (or rule, or bundle record) into a Gavel bundle.
    #[command(after_help = crate::examples::MIGRATE_APPLYLENS)]
    Applylens(MigrateArgs),
    /// Rewrite a menace deployment policy (or rules file) into a Gavel governance policy.
    #[command(after_help = crate::examples::MIGRATE_MENACE)]
    Menace(MigrateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The seed's file (JSON or YAML).
    pub file: String,
    /// Write the result to FILE instead of standard output (nothing is written on failure).
    #[arg(long, value_name = "FILE")]
    pub out: Option<String>,
}

/// One change the migration made.
#[derive(Debug, Serialize)]
struct Change {
    /// What was done (a fixed word scripts can branch on).
    kind: &'static str,
    /// Where, in the seed's file, as a JSON pointer (`/rules/2/priority`).
    pointer: String,
    /// The rule's 0-based index in the seed's file, for a change to a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<usize>,
    /// The rule's id as the seed wrote it (ApplyLens).
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_id: Option<String>,
    /// The field changed (`conditions.risk_score>=`, `priority`, `overrides`).
    field: String,
    /// What was done, in words.
    message: String,
    /// The command that replaces what was removed (menace overrides).
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<String>,
}

impl Change {
    fn where_text(&self) -> String {
        match (self.rule, &self.rule_id) {
            (Some(i), Some(id)) => format!("rule {i} (`{id}`) {}", self.field),
            (Some(i), None) => format!("rule {i} {}", self.field),
            _ => self.field.clone(),
        }
    }
}

/// A migration's result: the document and what changed.
#[derive(Debug)]
struct Migrated {
    document: Node,
    changes: Vec<Change>,
}

/// Problems that stop a migration, each located in the seed's file.
#[derive(Debug, Default)]
struct Problems(Vec<Diagnostic>);

impl Problems {
    fn push(&mut self, doc: &Node, pointer: &str, message: impl Into<String>) {
        let at = doc.locate(pointer);
        self.0.push(Diagnostic {
            message: message.into(),
            pointer: Some(pointer.to_string()),
            line: Some(at.line),
            column: Some(at.column),
        });
    }
}

pub fn run(cmd: &MigrateCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let (seed, args) = match cmd {
        MigrateCommand::Applylens(a) => ("applylens", a),
        MigrateCommand::Menace(a) => ("menace", a),
    };
    let text = read_text(&args.file)?;
    let syntax = Format::detect(&args.file, &text);
    let doc = gavel_policy::parse_document(&text, syntax)
        .map_err(|e| Failure::load(&args.file, Some(text.clone()), &e))?;
    let (code, result) = match cmd {
        MigrateCommand::Applylens(_) => ("invalid_bundle", applylens(&doc, &args.file)),
        MigrateCommand::Menace(_) => ("invalid_policy", menace(&doc)),
    };
    let migrated = result.map_err(|problems| Failure {
        code,
        file: Some(args.file.clone()),
        source: Some(text.clone()),
        diagnostics: problems.0,
        exit: 2,
    })?;
    let mut migrated = migrated;
    // Rule by rule, in the seed's order; changes to the whole file last.
    migrated
        .changes
        .sort_by_key(|c| c.rule.map_or((1, 0), |i| (0, i)));
    let rendered = match syntax {
        Format::Json => format!("{}\n", to_json_pretty(&migrated.document)),
        Format::Yaml => to_yaml(&migrated.document),
    };
    // What is checked is the text written, read back as Gavel will read it.
    let written = gavel_policy::parse_document(&rendered, syntax).map_err(|e| {
        Failure::new(
            "internal",
            format!(
                "the migrated document does not read back ({e}); please report this with the file"
            ),
        )
        .in_file(&args.file)
    })?;
    check_result(seed, &written, &args.file)?;
    if let Some(out) = &args.out {
        write_atomically(out, &rendered)?;
    }
    match format {
        OutputFormat::Json => {
            #[derive(Serialize)]
            struct Report<'a> {
                seed: &'a str,
                file: &'a str,
                result: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                out: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                document: Option<Ordered<'a>>,
                changes: &'a [Change],
            }
            let report = Report {
                seed,
                file: &args.file,
                result: if seed == "applylens" {
                    "bundle"
                } else {
                    "policy"
                },
                out: args.out.as_deref(),
                document: args.out.is_none().then_some(Ordered(&migrated.document)),
                changes: &migrated.changes,
            };
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
        }
        _ => {
            let mut err = String::new();
            for c in &migrated.changes {
                let _ = writeln!(
                    err,
                    "change: {}: {} [{}]",
                    c.where_text(),
                    c.message,
                    c.kind
                );
                if let Some(command) = &c.command {
                    let _ = writeln!(err, "  {command}");
                }
            }
            let what = if seed == "applylens" {
                "a Gavel bundle"
            } else {
                "a Gavel governance policy"
            };
            let n = migrated.changes.len();
            let _ = writeln!(
                err,
                "migrated {} ({seed}) to {what}: {n} change{}",
                args.file,
                if n == 1 { "" } else { "s" }
            );
            eprint!("{err}");
            match &args.out {
                Some(out) => println!("wrote {out}"),
                None => print!("{rendered}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The migrated document must load as what it claims to be: what stops it
/// is a value migrate copies as the seed wrote it (a `tags` that is not a
/// list, a negative cost, a bad regular expression), reported by its field
/// rather than written.
fn check_result(seed: &str, doc: &Node, file: &str) -> Result<(), Failure> {
    let problems: Vec<Diagnostic> = if seed == "applylens" {
        match Bundle::from_document(doc.clone()) {
            Ok(_) => return Ok(()),
            Err(e) => e.diagnostics(),
        }
    } else {
        match gavel_governance::Policy::from_json(&doc.to_json()) {
            Ok(_) => return Ok(()),
            Err(e) => e.diagnostics(),
        }
    };
    let mut f = Failure::new(
        if seed == "applylens" {
            "invalid_bundle"
        } else {
            "invalid_policy"
        },
        "the migrated document does not load in Gavel: a value copied from the seed file is one \
         Gavel does not accept (below, by its place in the migrated document); fix it in the seed \
         file and migrate again",
    )
    .in_file(file);
    f.diagnostics.extend(problems.into_iter().map(|mut d| {
        d.message = format!("in the migrated document: {}", d.message);
        d.line = None;
        d.column = None;
        d
    }));
    Err(f)
}

/// Writes `text` to a temporary file beside `path` and renames it over
/// `path`, so that a failed write never leaves half a file there.
fn write_atomically(path: &str, text: &str) -> Result<(), Failure> {
    let unwritable = |e: std::io::Error| {
        Failure::new("unwritable", format!("cannot write `{path}`: {e}")).in_file(path)
    };
    let target = std::path::Path::new(path);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = target.with_file_name(format!(".{name}.gavel-migrate-{}", std::process::id()));
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, target));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(unwritable(e));
    }
    Ok(())
}

// ---------------------------------------------------------------- building

fn node(value: NodeValue) -> Node {
    Node::new(value, Location::default())
}

fn string(s: impl Into<String>) -> Node {
    node(NodeValue::String(s.into()))
}

fn entry(name: impl Into<String>, value: Node) -> (Key, Node) {
    (
        Key {
            name: name.into(),
            location: Location::default(),
        },
        value,
    )
}

fn ptr(base: &str, key: &str) -> String {
    format!("{base}/{}", pointer_token(key))
}

/// A number written as an integer when it is one.
fn number(n: f64) -> Node {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        node(NodeValue::Int(n as i64))
    } else {
        node(NodeValue::Float(n))
    }
}

// ---------------------------------------------------------------- ApplyLens

/// The seed engine's defaults for fields a rule leaves out.
const SEED_AGENT: &str = "*";
const SEED_ACTION: &str = "*";
const SEED_EFFECT: &str = "deny";
const SEED_PRIORITY: i64 = 0;

/// Operators as the seed's recipes write them after the field
/// (`risk_score>=`), longest first.
const SUFFIXES: [&str; 6] = [">=", "<=", "==", "!=", ">", "<"];

const PLACEHOLDER: &str = "TODO(migrate):";

/// One seed rule read, before ids and priorities are settled.
struct SeedRule<'a> {
    index: usize,
    pointer: String,
    id: String,
    priority: Option<i64>,
    fields: Vec<(Key, Node)>,
    node: &'a Node,
}

fn applylens(doc: &Node, file: &str) -> Result<Migrated, Problems> {
    let mut problems = Problems::default();
    let mut changes = Vec::new();
    let mut version = None;
    let mut notes = None;
    // Where the rules are, and the record around them (if any).
    let (rules, base): (&[Node], String) = match &doc.value {
        NodeValue::Seq(items) => (items, String::new()),
        NodeValue::Map(_) if doc.get("apiVersion").is_some() || doc.get("kind").is_some() => {
            problems.push(
                doc,
                "",
                "this is already a Gavel bundle (`apiVersion`/`kind`); check it with `gavel validate`",
            );
            return Err(problems);
        }
        NodeValue::Map(_) => {
            let (record, base) = match (doc.get("bundle"), doc.get("signature")) {
                (Some(b), Some(_)) if b.get("rules").is_some() => {
                    changes.push(Change {
                        kind: "signature_dropped",
                        pointer: "/signature".into(),
                        rule: None,
                        rule_id: None,
                        field: "signature".into(),
                        message:
                            "the signed export's HMAC signature no longer covers the rewritten \
                                  rules; sign the result with `gavel sign --type bundle`"
                                .into(),
                        command: None,
                    });
                    (b, "/bundle".to_string())
                }
                _ => (doc, String::new()),
            };
            let menace_keys = [
                "raroi_threshold",
                "confidence_threshold",
                "sandbox_low",
                "max_variance",
                "scenario_thresholds",
                "overrides",
            ];
            if record
                .as_map()
                .unwrap_or_default()
                .iter()
                .any(|(k, _)| menace_keys.contains(&k.name.as_str()))
            {
                problems.push(
                    doc,
                    "",
                    "not an ApplyLens policy: this is a menace deployment policy (`raroi_threshold`, `overrides`, …); use `gavel migrate menace`",
                );
                return Err(problems);
            }
            match record.get("rules") {
                Some(rules) => {
                    for (k, v) in record.as_map().unwrap_or_default() {
                        let at = ptr(&base, &k.name);
                        match (k.name.as_str(), &v.value) {
                            ("rules", _) => {}
                            ("version", NodeValue::String(s)) if is_semver(s) => {
                                version = Some(s.clone());
                            }
                            ("notes", NodeValue::String(s)) => notes = Some(s.clone()),
                            _ => changes.push(Change {
                                kind: "dropped",
                                pointer: at,
                                rule: None,
                                rule_id: None,
                                field: k.name.clone(),
                                message: format!(
                                    "`{}` of the seed's bundle record has no place in a Gavel bundle: dropped",
                                    k.name
                                ),
                                command: None,
                            }),
                        }
                    }
                    match &rules.value {
                        NodeValue::Seq(items) => (items.as_slice(), ptr(&base, "rules")),
                        _ => {
                            problems.push(
                                doc,
                                &ptr(&base, "rules"),
                                format!(
                                    "`rules` must be a list of rules, found a {}",
                                    rules.type_name()
                                ),
                            );
                            return Err(problems);
                        }
                    }
                }
                None if doc.get("id").is_some() => (std::slice::from_ref(doc), String::new()),
                None => {
                    let keys: Vec<String> = doc
                        .as_map()
                        .unwrap_or_default()
                        .iter()
                        .take(6)
                        .map(|(k, _)| format!("`{}`", k.name))
                        .collect();
                    let hint =
                        if doc.get("decision").is_some() || doc.get("raroi_threshold").is_some() {
                            "; this looks like a menace policy: use `gavel migrate menace`"
                        } else {
                            ""
                        };
                    problems.push(
                        doc,
                        "",
                        format!(
                            "not an ApplyLens policy: expected a list of rules, one rule \
                             (`{{id, agent, action, effect, conditions, reason, priority}}`) or a \
                             bundle record with `rules`, found an object with {}{hint}",
                            keys.join(", ")
                        ),
                    );
                    return Err(problems);
                }
            }
        }
        _ => {
            problems.push(
                doc,
                "",
                format!(
                    "not an ApplyLens policy: expected a list of rules, found a {}",
                    doc.type_name()
                ),
            );
            return Err(problems);
        }
    };
    // A single rule sits at the root: its pointer base is "".
    let single = matches!(doc.value, NodeValue::Map(_)) && base.is_empty();
    let mut seed_rules = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let at = if single {
            String::new()
        } else {
            format!("{base}/{i}")
        };
        if let Some(rule) = read_rule(doc, i, &at, r, &mut problems, &mut changes) {
            seed_rules.push(rule);
        }
    }
    if !problems.0.is_empty() {
        return Err(problems);
    }
    settle_ids(&mut seed_rules, &mut changes);
    let priorities = settle_priorities(&mut seed_rules, &mut changes);
    // Reasons, after ids (the placeholder names the rule).
    let mut actions: Vec<String> = Vec::new();
    let mut out_rules = Vec::new();
    for (rule, priority) in seed_rules.iter_mut().zip(priorities) {
        let seed_id = rule
            .node
            .get("id")
            .and_then(Node::as_str)
            .map(str::to_string);
        let change = |kind, field: &str, message: String| Change {
            kind,
            pointer: ptr(&rule.pointer, field),
            rule: Some(rule.index),
            rule_id: seed_id.clone(),
            field: field.to_string(),
            message,
            command: None,
        };
        let effect = field_str(&rule.fields, "effect")
            .unwrap_or(SEED_EFFECT)
            .to_string();
        let reason = field_str(&rule.fields, "reason").map(str::to_string);
        match reason {
            Some(r) if !r.trim().is_empty() => {
                if r.chars().count() > 256 {
                    let cut: String = r.chars().take(255).collect();
                    set_field(&mut rule.fields, "reason", string(format!("{cut}…")));
                    changes.push(change(
                        "reason_truncated",
                        "reason",
                        "longer than Gavel's 256 characters: cut to 255 and `…`".into(),
                    ));
                }
            }
            _ => {
                let text = format!("{PLACEHOLDER} {effect} by policy rule {}", rule.id);
                changes.push(change(
                    "reason_placeholder",
                    "reason",
                    format!("missing: filled with `{text}` (write why the rule exists)"),
                ));
                set_field(&mut rule.fields, "reason", string(text));
            }
        }
        set_field(&mut rule.fields, "priority", node(NodeValue::Int(priority)));
        if let Some(action) = field_str(&rule.fields, "action") {
            if action != "*"
                && !STANDARD_ACTIONS.contains(&action)
                && !actions.iter().any(|a| a == action)
            {
                actions.push(action.to_string());
                changes.push(change(
                    "action_declared",
                    "action",
                    format!(
                        "`{action}` is outside Gavel's standard actions: declared in `metadata.actions`"
                    ),
                ));
            }
        }
        let mut ordered: Vec<(Key, Node)> = Vec::new();
        for name in gavel_policy::RULE_FIELDS {
            if let Some(pos) = rule.fields.iter().position(|(k, _)| k.name == name) {
                ordered.push(rule.fields.remove(pos));
            }
        }
        out_rules.push(node(NodeValue::Map(ordered)));
    }
    // Metadata: the seed allows what no rule matches.
    let mut metadata = Vec::new();
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bundle_name = match sanitize(&stem, 64).trim_matches('-') {
        "" => "applylens".to_string(),
        n => n.to_string(),
    };
    changes.push(meta_change(
        "name",
        format!("set to `{bundle_name}` (from the file's name; the seed's rules have none)"),
    ));
    metadata.push(entry("name", string(bundle_name)));
    match version {
        Some(v) => metadata.push(entry("version", string(v))),
        None => {
            changes.push(meta_change(
                "version",
                "set to `1.0.0` (the seed's file has no semantic version)".into(),
            ));
            metadata.push(entry("version", string("1.0.0")));
        }
    }
    if let Some(n) = notes {
        metadata.push(entry("notes", string(n)));
    }
    changes.push(meta_change(
        "default_effect",
        "set to `allow`: the seed's engine allows a request no rule matches (Gavel denies by default)"
            .into(),
    ));
    metadata.push(entry("default_effect", string("allow")));
    if !actions.is_empty() {
        metadata.push(entry(
            "actions",
            node(NodeValue::Seq(actions.into_iter().map(string).collect())),
        ));
    }
    let document = node(NodeValue::Map(vec![
        entry("apiVersion", string("gavel/v1")),
        entry("kind", string("PolicyBundle")),
        entry("metadata", node(NodeValue::Map(metadata))),
        entry("rules", node(NodeValue::Seq(out_rules))),
    ]));
    Ok(Migrated { document, changes })
}

fn meta_change(field: &str, message: String) -> Change {
    Change {
        kind: "metadata",
        pointer: String::new(),
        rule: None,
        rule_id: None,
        field: format!("metadata.{field}"),
        message,
        command: None,
    }
}

fn field_str<'f>(fields: &'f [(Key, Node)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k.name == name)
        .and_then(|(_, v)| v.as_str())
}

fn set_field(fields: &mut Vec<(Key, Node)>, name: &str, value: Node) {
    match fields.iter_mut().find(|(k, _)| k.name == name) {
        Some((_, v)) => *v = value,
        None => fields.push(entry(name, value)),
    }
}

fn is_semver(s: &str) -> bool {
    let cut = s.find(['-', '+']).unwrap_or(s.len());
    let (core, rest) = s.split_at(cut);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
        && (rest.is_empty()
            || (rest.len() > 1
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))))
}

/// Lower case, with characters outside `[a-z0-9_-]` made `-`, at most
/// `max` characters.
fn sanitize(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(max)
        .collect()
}

/// Whether Gavel takes `agent` as written: `ns.name`, `ns.*` or `*`.
fn gavel_agent(agent: &str) -> bool {
    if agent == "*" {
        return true;
    }
    let Some((ns, rest)) = agent.split_once('.') else {
        return false;
    };
    !ns.is_empty()
        && ns.bytes().all(|b| b.is_ascii_lowercase())
        && (rest == "*"
            || (!rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')))
}

/// Reads one seed rule: what the seed requires, its defaults made explicit,
/// its conditions in Gavel's operator form, fields Gavel lacks moved into
/// the rule's `metadata`.
fn read_rule<'a>(
    doc: &Node,
    index: usize,
    at: &str,
    r: &'a Node,
    problems: &mut Problems,
    changes: &mut Vec<Change>,
) -> Option<SeedRule<'a>> {
    let Some(map) = r.as_map() else {
        problems.push(
            doc,
            at,
            format!(
                "rule {index} is a {}, not a rule `{{id, agent, action, effect, …}}`",
                r.type_name()
            ),
        );
        return None;
    };
    let seed_id = match r.get("id") {
        Some(Node {
            value: NodeValue::String(s),
            ..
        }) => s.clone(),
        Some(other) => {
            problems.push(
                doc,
                &ptr(at, "id"),
                format!(
                    "rule {index}: `id` must be a string, found a {}",
                    other.type_name()
                ),
            );
            return None;
        }
        None => {
            let hint = if r.get("decision").is_some() {
                "; this looks like a menace rule: use `gavel migrate menace`"
            } else {
                ""
            };
            problems.push(
                doc,
                at,
                format!("rule {index} has no `id`: the seed requires one (`id: my-rule`){hint}"),
            );
            return None;
        }
    };
    let change = |kind, field: &str, message: String| Change {
        kind,
        pointer: ptr(at, field.split('.').next().unwrap_or(field)),
        rule: Some(index),
        rule_id: Some(seed_id.clone()),
        field: field.to_string(),
        message,
        command: None,
    };
    let mut fields: Vec<(Key, Node)> = Vec::new();
    let mut extra: Vec<(Key, Node)> = Vec::new();
    let mut priority = None;
    let before = problems.0.len();
    for (k, v) in map {
        let here = ptr(at, &k.name);
        let expect = |problems: &mut Problems, what: &str| {
            problems.push(
                doc,
                &here,
                format!(
                    "rule {index} (`{seed_id}`): `{}` must be {what}, found a {}",
                    k.name,
                    v.type_name()
                ),
            );
        };
        match k.name.as_str() {
            "id" => {}
            "agent" => match v.as_str() {
                Some(a) if gavel_agent(a) => fields.push((k.clone(), v.clone())),
                Some(a) => problems.push(
                    doc,
                    &here,
                    format!(
                        "rule {index} (`{seed_id}`): agent `{a}` is not an agent name Gavel reads \
                         (`namespace.name`, `namespace.*` or `*`, lower case); rename the agent, \
                         and the requests that name it, then migrate again"
                    ),
                ),
                None => expect(problems, "a string"),
            },
            "action" => match v.as_str() {
                Some(a)
                    if a == "*"
                        || (!a.is_empty()
                            && a.bytes().all(|b| {
                                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                            })) =>
                {
                    fields.push((k.clone(), v.clone()))
                }
                Some(a) => problems.push(
                    doc,
                    &here,
                    format!(
                        "rule {index} (`{seed_id}`): action `{a}` cannot be declared in Gavel \
                         (actions are `[a-z0-9_-]+`); rename it, and the requests that name it"
                    ),
                ),
                None => expect(problems, "a string"),
            },
            "effect" => match v.as_str() {
                Some("allow" | "deny" | "needs_approval") => fields.push((k.clone(), v.clone())),
                Some(e) => problems.push(
                    doc,
                    &here,
                    format!(
                        "rule {index} (`{seed_id}`): effect `{e}` is not one of allow, deny, needs_approval"
                    ),
                ),
                None => expect(problems, "a string"),
            },
            "reason" => match &v.value {
                NodeValue::String(_) => fields.push((k.clone(), v.clone())),
                NodeValue::Null => {}
                _ => expect(problems, "a string"),
            },
            "priority" => match v.value {
                NodeValue::Int(p) => priority = Some(p),
                NodeValue::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => {
                    priority = Some(f as i64)
                }
                _ => expect(problems, "a whole number"),
            },
            "conditions" => match v.as_map() {
                Some(conds) => {
                    let converted = conditions(doc, index, &seed_id, &here, conds, problems, changes);
                    fields.push((k.clone(), node(NodeValue::Map(converted))));
                }
                None if matches!(v.value, NodeValue::Null) => {}
                None => expect(problems, "an object of conditions"),
            },
            "budget" => match v.as_map() {
                Some(b) => {
                    let mut budget = Vec::new();
                    for (bk, bv) in b {
                        match (bk.name.as_str(), bv.as_str()) {
                            ("risk", Some("critical")) => {
                                changes.push(change(
                                    "budget_risk",
                                    "budget.risk",
                                    "`critical` is not a Gavel risk (low, medium, high): written as `high`".into(),
                                ));
                                budget.push(entry("risk", string("high")));
                            }
                            ("cost" | "compute" | "risk", _) => budget.push((bk.clone(), bv.clone())),
                            (other, _) => problems.push(
                                doc,
                                &ptr(&here, other),
                                format!(
                                    "rule {index} (`{seed_id}`): `budget.{other}` has no place in Gavel's \
                                     budget `{{cost, compute, risk}}`; move it into the rule's `metadata`"
                                ),
                            ),
                        }
                    }
                    fields.push((k.clone(), node(NodeValue::Map(budget))));
                }
                None => expect(problems, "an object `{cost, compute, risk}`"),
            },
            "enabled" => {
                if matches!(v.value, NodeValue::Bool(false)) {
                    changes.push(change(
                        "enabled",
                        "enabled",
                        "`enabled: false` kept: the seed's engine ignored it and ran the rule; \
                         Gavel honours it, so this rule is now off"
                            .into(),
                    ));
                }
                fields.push((k.clone(), v.clone()));
            }
            "tags" | "metadata" | "approvals_required" | "description" => {
                fields.push((k.clone(), v.clone()))
            }
            _ => {
                changes.push(change(
                    "moved_to_metadata",
                    &k.name,
                    format!(
                        "`{}` is not a Gavel rule field (the seed ignores it): moved into the rule's `metadata`",
                        k.name
                    ),
                ));
                extra.push((k.clone(), v.clone()));
            }
        }
    }
    for (name, default) in [
        ("agent", SEED_AGENT),
        ("action", SEED_ACTION),
        ("effect", SEED_EFFECT),
    ] {
        if r.get(name).is_none() {
            changes.push(change(
                "default_filled",
                name,
                format!("missing: written as the seed's default `{default}`"),
            ));
            fields.push(entry(name, string(default)));
        }
    }
    if !extra.is_empty() {
        match fields.iter_mut().find(|(k, _)| k.name == "metadata") {
            Some((_, m)) => match &mut m.value {
                NodeValue::Map(entries) => {
                    for (k, v) in extra {
                        if entries.iter().any(|(e, _)| e.name == k.name) {
                            problems.push(
                                doc,
                                &ptr(at, &k.name),
                                format!(
                                    "rule {index} (`{seed_id}`): `{}` cannot move into `metadata`, which \
                                     already has a `{}`; rename one of them",
                                    k.name, k.name
                                ),
                            );
                        } else {
                            entries.push((k, v));
                        }
                    }
                }
                _ => problems.push(
                    doc,
                    &ptr(at, "metadata"),
                    format!("rule {index} (`{seed_id}`): `metadata` must be an object"),
                ),
            },
            None => fields.push(entry("metadata", node(NodeValue::Map(extra)))),
        }
    }
    (problems.0.len() == before).then(|| SeedRule {
        index,
        pointer: at.to_string(),
        id: seed_id,
        priority,
        fields,
        node: r,
    })
}

/// Conditions in Gavel's form: an operator the recipes write after the
/// field moves before it, an operator written in a string value moves into
/// the key, and a bare number becomes `>=`, as the seed's engine reads it.
fn conditions(
    doc: &Node,
    index: usize,
    seed_id: &str,
    at: &str,
    conds: &[(Key, Node)],
    problems: &mut Problems,
    changes: &mut Vec<Change>,
) -> Vec<(Key, Node)> {
    let mut out: Vec<(Key, Node)> = Vec::new();
    for (k, v) in conds {
        let key = k.name.as_str();
        let here = ptr(at, key);
        let change = |kind, message: String| Change {
            kind,
            pointer: here.clone(),
            rule: Some(index),
            rule_id: Some(seed_id.to_string()),
            field: format!("conditions.{key}"),
            message,
            command: None,
        };
        let prefixed = SUFFIXES.iter().any(|op| key.starts_with(op));
        let suffix = SUFFIXES
            .iter()
            .find(|op| key.ends_with(*op) && key.len() > op.len())
            .map(|op| (*op, &key[..key.len() - op.len()]))
            .filter(|(_, field)| is_path(field));
        let (new_key, new_value, kind, message) = match (suffix, &v.value) {
            (Some((op, field)), value) if !prefixed => {
                let ordering = matches!(op, ">=" | "<=" | ">" | "<");
                if ordering && !matches!(value, NodeValue::Int(_) | NodeValue::Float(_)) {
                    problems.push(
                        doc,
                        &here,
                        format!(
                            "rule {index} (`{seed_id}`): `{key}` compares with a {}, and Gavel's `{op}` \
                             compares numbers; write a number",
                            v.type_name()
                        ),
                    );
                    continue;
                }
                let new = format!("{op}{field}");
                let message = format!(
                    "`{key}` rewritten as `{new}` (operator before the field); the seed's engine read \
                     `{key}` as a field name of its own, so this condition now compares"
                );
                (new, v.clone(), "suffix_operator", message)
            }
            (None, NodeValue::Int(_) | NodeValue::Float(_)) if !prefixed && is_path(key) => {
                let new = format!(">={key}");
                let message = format!(
                    "bare number: rewritten as `{new}`; the seed's engine reads `{key}: N` as \
                     \"at least N\" (Gavel's bare key means equal)"
                );
                (new, v.clone(), "bare_number", message)
            }
            (None, NodeValue::String(s)) if !prefixed && is_path(key) => match value_operator(s) {
                Some((op, n)) => {
                    let new = format!("{op}{key}");
                    let message = format!(
                        "`{key}: \"{s}\"` rewritten as `{new}: {n}` (operator in the key, number as \
                         the value); the seed's engine compared the text `{s}` for equality"
                    );
                    (new, number(n), "value_operator", message)
                }
                None => {
                    out.push((k.clone(), v.clone()));
                    continue;
                }
            },
            _ => {
                if prefixed || word_operator(key) {
                    changes.push(change(
                        "operator_now_compares",
                        format!(
                            "`{key}` kept: the seed's engine read it as a field name of its own \
                             (it never matched); in Gavel it is an operator, so this condition \
                             now compares"
                        ),
                    ));
                }
                out.push((k.clone(), v.clone()));
                continue;
            }
        };
        if conds.iter().any(|(other, _)| other.name == new_key)
            || out.iter().any(|(o, _)| o.name == new_key)
        {
            problems.push(
                doc,
                &here,
                format!(
                    "rule {index} (`{seed_id}`): `{key}` would become `{new_key}`, which the rule \
                     already has; merge the two conditions"
                ),
            );
            continue;
        }
        changes.push(change(kind, message));
        out.push((
            Key {
                name: new_key,
                location: k.location,
            },
            new_value,
        ));
    }
    out
}

/// A key in Gavel's word-operator form (`in:category`, `exists:approved`).
fn word_operator(key: &str) -> bool {
    key.split_once(':').is_some_and(|(word, _)| {
        matches!(word, "in" | "not_in" | "contains" | "matches" | "exists")
    })
}

/// `">30"`, `">= 0.9"`: an operator and a number written as a string.
fn value_operator(s: &str) -> Option<(&'static str, f64)> {
    let t = s.trim();
    let op = SUFFIXES.iter().find(|op| t.starts_with(*op))?;
    let rest = t[op.len()..].trim();
    let n: f64 = rest.parse().ok()?;
    (n.is_finite()
        && rest
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')))
    .then_some((op, n))
}

/// Ids Gavel accepts (`[a-z0-9_-]`, 3 to 64 characters, unique), changed
/// only where needed and the same way every time.
fn settle_ids(rules: &mut [SeedRule<'_>], changes: &mut Vec<Change>) {
    let valid = |id: &str| {
        (3..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    // Ids kept as written: valid, first use. Every new id avoids them all.
    let mut taken: HashSet<String> = HashSet::new();
    let mut keep = vec![false; rules.len()];
    for (i, r) in rules.iter().enumerate() {
        if valid(&r.id) && taken.insert(r.id.clone()) {
            keep[i] = true;
        }
    }
    for (r, kept) in rules.iter_mut().zip(keep) {
        if kept {
            set_field(&mut r.fields, "id", string(r.id.clone()));
            continue;
        }
        let mut base = sanitize(&r.id, 60);
        let why = if r.id.is_empty() {
            base = format!("rule-{}", r.index + 1);
            "empty"
        } else if base.len() < 3 {
            base = format!("rule-{base}");
            "shorter than 3 characters"
        } else if base != r.id {
            "not `[a-z0-9_-]`, 3 to 64 characters"
        } else {
            "used by an earlier rule"
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        taken.insert(candidate.clone());
        changes.push(Change {
            kind: "id",
            pointer: ptr(&r.pointer, "id"),
            rule: Some(r.index),
            rule_id: Some(r.id.clone()),
            field: "id".into(),
            message: format!("`{}` is {why}: renamed `{candidate}`", r.id),
            command: None,
        });
        r.id = candidate;
        set_field(&mut r.fields, "id", string(r.id.clone()));
    }
    // Put `id` first again (set_field appends when absent).
    for r in rules.iter_mut() {
        if let Some(pos) = r.fields.iter().position(|(k, _)| k.name == "id") {
            let id = r.fields.remove(pos);
            r.fields.insert(0, id);
        }
    }
}

/// Gavel's priorities (0 to 100) in the seed's order: kept when every
/// priority is already in range, otherwise scaled (proportionally when
/// that keeps distinct priorities distinct, else by rank). Ties stay ties.
/// With more than 101 distinct priorities the rules are put in the seed's
/// evaluation order, where Gavel's ties (file order) decide the same way.
fn settle_priorities(rules: &mut Vec<SeedRule<'_>>, changes: &mut Vec<Change>) -> Vec<i64> {
    let seed: Vec<i64> = rules
        .iter()
        .map(|r| r.priority.unwrap_or(SEED_PRIORITY))
        .collect();
    let mut distinct = seed.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let in_range = distinct.iter().all(|p| (0..=100).contains(p));
    let lo = distinct.first().copied().unwrap_or(0).min(0);
    let hi = distinct.last().copied().unwrap_or(100).max(100);
    let linear = |p: i64| ((p - lo) as f64 * 100.0 / (hi - lo) as f64).round() as i64;
    let mut scaled: Vec<i64> = distinct.iter().map(|&p| linear(p)).collect();
    let mut how = "proportionally";
    if scaled.windows(2).any(|w| w[0] == w[1]) && distinct.len() <= 101 {
        let steps = (distinct.len().max(2) - 1) as f64;
        scaled = (0..distinct.len())
            .map(|k| (k as f64 * 100.0 / steps).round() as i64)
            .collect();
        how = "by rank";
    }
    let map = |p: i64| {
        if in_range {
            p
        } else {
            distinct
                .binary_search(&p)
                .ok()
                .and_then(|i| scaled.get(i).copied())
                .unwrap_or(p)
        }
    };
    let reorder = !in_range && distinct.len() > 101;
    if reorder {
        // Python's sort is stable with `reverse=True`: equal priorities keep file order.
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(seed.get(i).copied().unwrap_or(0)));
        changes.push(Change {
            kind: "reordered",
            pointer: String::new(),
            rule: None,
            rule_id: None,
            field: "rules".into(),
            message: format!(
                "{} distinct priorities do not fit Gavel's 0 to 100 one apart: rules put in the \
                 seed's evaluation order (highest priority first), which Gavel keeps between equal priorities",
                distinct.len()
            ),
            command: None,
        });
        let mut taken: Vec<Option<SeedRule<'_>>> = rules.drain(..).map(Some).collect();
        for i in &order {
            if let Some(r) = taken.get_mut(*i).and_then(Option::take) {
                rules.push(r);
            }
        }
    }
    let mut out = Vec::with_capacity(rules.len());
    for r in rules.iter() {
        let p = r.priority.unwrap_or(SEED_PRIORITY);
        let new = map(p);
        let seed_id = r.node.get("id").and_then(Node::as_str).unwrap_or_default();
        let change = |kind, message| Change {
            kind,
            pointer: ptr(&r.pointer, "priority"),
            rule: Some(r.index),
            rule_id: Some(seed_id.to_string()),
            field: "priority".into(),
            message,
            command: None,
        };
        match r.priority {
            None => changes.push(change(
                "priority_default",
                format!(
                    "missing: the seed's default is {SEED_PRIORITY} (Gavel's is 50), written as {new}"
                ),
            )),
            Some(_) if new != p => changes.push(change(
                "priority_rescaled",
                format!("{p} rescaled to {new} ({how}, into Gavel's 0 to 100, keeping the seed's order)"),
            )),
            Some(_) => {}
        }
        out.push(new);
    }
    out
}

// ---------------------------------------------------------------- menace

/// The names the seed's rule conditions can read; any other name raised
/// NameError there, and the rule was skipped.
const MENACE_NAMES: [&str; 13] = [
    "raroi",
    "confidence",
    "min_scenario",
    "score_variance",
    "sandbox_roi",
    "adapter_roi",
    "alignment_status",
    "raroi_threshold",
    "confidence_threshold",
    "scenario_score_min",
    "sandbox_roi_low",
    "adapter_roi_high",
    "max_variance",
];

const MENACE_NUMBERS: [&str; 7] = [
    "raroi_threshold",
    "confidence_threshold",
    "scenario_score_min",
    "sandbox_roi_low",
    "adapter_roi_high",
    "roi_forecast_min",
    "foresight_confidence_min",
];

const VERDICTS: [&str; 4] = ["promote", "demote", "pilot", "no_go"];

fn menace(doc: &Node) -> Result<Migrated, Problems> {
    let mut problems = Problems::default();
    let mut changes = Vec::new();
    let change =
        |kind, pointer: String, field: &str, message: String, command: Option<String>| Change {
            kind,
            pointer,
            rule: None,
            rule_id: None,
            field: field.to_string(),
            message,
            command,
        };
    let map = match &doc.value {
        NodeValue::Seq(rules) => {
            let out = menace_rules(doc, "", rules, &mut problems, &mut changes);
            if !problems.0.is_empty() {
                return Err(problems);
            }
            // A mapping, not a bare list, so that it can carry `limit_verdict`.
            let mut policy = vec![entry("rules", node(NodeValue::Seq(out)))];
            limit_verdict(&mut policy, &mut changes);
            let document = node(NodeValue::Map(policy));
            return Ok(Migrated { document, changes });
        }
        NodeValue::Map(entries) => entries,
        _ => {
            problems.push(
                doc,
                "",
                format!(
                    "not a menace deployment policy: expected a mapping of thresholds, `rules` and \
                     `overrides`, or a list of rules, found a {}",
                    doc.type_name()
                ),
            );
            return Err(problems);
        }
    };
    let sections: Vec<&str> = map
        .iter()
        .filter(|(k, v)| {
            ["promote", "demote", "micro_pilot", "pilot", "no_go"].contains(&k.name.as_str())
                && v.as_map().is_some()
        })
        .map(|(k, _)| k.name.as_str())
        .collect();
    if let Some(first) = sections.first() {
        problems.push(
            doc,
            &ptr("", first),
            format!(
                "`{first}:` with its own `thresholds` is the sectioned policy of menace's `evaluate()`, \
                 which Gavel does not have; `gavel migrate menace` reads the policy of \
                 `evaluate_workflow` (flat `raroi_threshold`, `confidence_threshold`, `scenario_score_min`, \
                 `max_variance`, `scenario_thresholds`, `rules`, `overrides`): write the thresholds that \
                 way and migrate again"
            ),
        );
        return Err(problems);
    }
    if map
        .iter()
        .any(|(k, _)| k.name == "apiVersion" || k.name == "id")
    {
        problems.push(
            doc,
            "",
            "not a menace deployment policy: this looks like a bundle; use `gavel migrate applylens` or `gavel validate`",
        );
        return Err(problems);
    }
    let mut out: Vec<(Key, Node)> = Vec::new();
    // `sandbox_low`/`adapter_high` win over the long names in the seed.
    let alias_of = |canonical: &str| match canonical {
        "sandbox_roi_low" => Some("sandbox_low"),
        "adapter_roi_high" => Some("adapter_high"),
        _ => None,
    };
    let mut override_file: (Option<String>, Option<String>) = (None, None);
    for (k, v) in map {
        let at = ptr("", &k.name);
        let name = k.name.as_str();
        match name {
            n if MENACE_NUMBERS.contains(&n) || n == "max_variance" => {
                if alias_of(n).is_some_and(|a| map.iter().any(|(o, _)| o.name == a)) {
                    changes.push(change(
                        "dropped",
                        at,
                        n,
                        format!(
                            "dropped: `{}` is also given, and the seed uses that one",
                            alias_of(n).unwrap_or_default()
                        ),
                        None,
                    ));
                    continue;
                }
                if let Some(value) = menace_number(doc, &at, name, v, &mut problems, &mut changes) {
                    out.push((k.clone(), value));
                }
            }
            "sandbox_low" | "adapter_high" => {
                let canonical = if name == "sandbox_low" {
                    "sandbox_roi_low"
                } else {
                    "adapter_roi_high"
                };
                if let Some(value) = menace_number(doc, &at, name, v, &mut problems, &mut changes) {
                    changes.push(change(
                        "alias_renamed",
                        at,
                        name,
                        format!("renamed `{canonical}` (Gavel's name; it reads both)"),
                        None,
                    ));
                    out.push((
                        Key {
                            name: canonical.into(),
                            location: k.location,
                        },
                        value,
                    ));
                }
            }
            "allow_negative_dag" | "borderline_queue" => match v.value {
                NodeValue::Bool(_) => out.push((k.clone(), v.clone())),
                _ => problems.push(doc, &at, format!("`{name}` must be true or false, found a {}", v.type_name())),
            },
            "scenario_thresholds" => match &v.value {
                NodeValue::Map(entries) => {
                    let mut t = Vec::new();
                    for (sk, sv) in entries {
                        let sat = ptr(&at, &sk.name);
                        if let Some(value) =
                            menace_number(doc, &sat, &format!("scenario_thresholds.{}", sk.name), sv, &mut problems, &mut changes)
                        {
                            t.push((sk.clone(), value));
                        }
                    }
                    out.push((k.clone(), node(NodeValue::Map(t))));
                }
                NodeValue::Null => {}
                _ => problems.push(
                    doc,
                    &at,
                    format!("`scenario_thresholds` must map scenario names to numbers, found a {}", v.type_name()),
                ),
            },
            "rules" => match &v.value {
                NodeValue::Seq(rules) => {
                    let rules = menace_rules(doc, "/rules", rules, &mut problems, &mut changes);
                    changes.push(Change {
                        kind: "rules_in_policy",
                        pointer: "/rules".into(),
                        rule: None,
                        rule_id: None,
                        field: "rules".into(),
                        message: "kept as the policy's rules: the seed's `evaluate_workflow` reads its \
                                  rules from `config/deployment_governance.yaml`, not from the policy, \
                                  so there these rules did not run"
                            .into(),
                        command: None,
                    });
                    out.push((k.clone(), node(NodeValue::Seq(rules))));
                }
                NodeValue::Null => {}
                _ => problems.push(doc, &at, format!("`rules` must be a list of rules, found a {}", v.type_name())),
            },
            "name" | "description" | "version" => out.push((k.clone(), v.clone())),
            "overrides" => match &v.value {
                NodeValue::Map(flags) => {
                    let (command, notes) = override_command(flags);
                    let mut message = "removed: an unsigned mapping the seed applied to every evaluation; \
                                       Gavel takes signed, single-use overrides for one workflow"
                        .to_string();
                    if command.is_some() {
                        message.push_str(": issue one per workflow (WORKFLOW_ID) and use with `gavel scorecard eval --override FILE`");
                    } else {
                        message.push_str(" (this one forced nothing the seed would apply)");
                    }
                    for n in notes {
                        let _ = write!(message, "; {n}");
                    }
                    for (fk, fv) in flags {
                        match fk.name.as_str() {
                            "override_path" => override_file.0 = fv.as_str().map(str::to_string),
                            "public_key_path" => override_file.1 = fv.as_str().map(str::to_string),
                            _ => {}
                        }
                    }
                    changes.push(change("override_removed", at, "overrides", message, command));
                }
                NodeValue::Null => {}
                _ => problems.push(doc, &at, format!("`overrides` must be a mapping of flags, found a {}", v.type_name())),
            },
            "override_path" => override_file.0 = v.as_str().map(str::to_string),
            "public_key_path" => override_file.1 = v.as_str().map(str::to_string),
            _ => changes.push(change(
                "dropped",
                at,
                name,
                "dropped: the seed's `evaluate_workflow` does not read it, and a Gavel policy has no such field"
                    .into(),
                None,
            )),
        }
    }
    if override_file.0.is_some() || override_file.1.is_some() {
        let file = override_file
            .0
            .clone()
            .unwrap_or_else(|| "OVERRIDE_FILE".into());
        let key = override_file
            .1
            .clone()
            .unwrap_or_else(|| "SECRET_FILE".into());
        changes.push(change(
            "override_file_removed",
            if map.iter().any(|(k, _)| k.name == "override_path") {
                "/override_path".into()
            } else {
                "/overrides/override_path".into()
            },
            "override_path",
            "removed: a policy does not name an override file in Gavel; give the signed `{data, signature}` \
             file to each evaluation it is for (used once)"
                .into(),
            Some(format!(
                "gavel scorecard eval SCORECARD --policy POLICY --override {} --secret-file {}",
                shell_quote(&file),
                shell_quote(&key)
            )),
        ));
    }
    if !problems.0.is_empty() {
        return Err(problems);
    }
    limit_verdict(&mut out, &mut changes);
    Ok(Migrated {
        document: node(NodeValue::Map(out)),
        changes,
    })
}

/// The seed's verdict when the scenario variance is above `max_variance`
/// or a scenario is under its `scenario_thresholds` entry is `no_go`;
/// Gavel's default there is `demote`, so the policy says `no_go`.
fn limit_verdict(out: &mut Vec<(Key, Node)>, changes: &mut Vec<Change>) {
    out.push(entry("limit_verdict", string("no_go")));
    changes.push(Change {
        kind: "limit_verdict",
        pointer: String::new(),
        rule: None,
        rule_id: None,
        field: "limit_verdict".into(),
        message: "set to `no_go`: the seed gives `no_go` when the scenario variance is above \
                  `max_variance` or a scenario is under its `scenario_thresholds` entry (Gavel's \
                  default there is `demote`)"
            .into(),
        command: None,
    });
}

/// A threshold as a number: the seed's `float()` also read numeric strings.
fn menace_number(
    doc: &Node,
    at: &str,
    name: &str,
    v: &Node,
    problems: &mut Problems,
    changes: &mut Vec<Change>,
) -> Option<Node> {
    match &v.value {
        NodeValue::Int(_) | NodeValue::Float(_) => Some(v.clone()),
        NodeValue::Null if name == "max_variance" => Some(v.clone()),
        NodeValue::String(s) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => {
                changes.push(Change {
                    kind: "number_from_string",
                    pointer: at.to_string(),
                    rule: None,
                    rule_id: None,
                    field: name.to_string(),
                    message: format!("`\"{s}\"` written as the number {n} (the seed converted it)"),
                    command: None,
                });
                Some(number(n))
            }
            _ => {
                problems.push(
                    doc,
                    at,
                    format!("`{name}` must be a number, found `\"{s}\"`"),
                );
                None
            }
        },
        _ => {
            problems.push(
                doc,
                at,
                format!("`{name}` must be a number, found a {}", v.type_name()),
            );
            None
        }
    }
}

/// A menace rules list as Gavel's: `reason` named `reason_code`, an empty
/// reason code the decision (as the seed's loader made it), rules that read
/// a name the seed does not know removed (they never fired there).
fn menace_rules(
    doc: &Node,
    base: &str,
    rules: &[Node],
    problems: &mut Problems,
    changes: &mut Vec<Change>,
) -> Vec<Node> {
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let at = format!("{base}/{i}");
        let change = |kind, field: &str, message: String| Change {
            kind,
            pointer: ptr(&at, field),
            rule: Some(i),
            rule_id: None,
            field: field.to_string(),
            message,
            command: None,
        };
        let Some(map) = r.as_map() else {
            problems.push(
                doc,
                &at,
                format!(
                    "rule {i} is a {}, not `{{decision, condition, reason_code}}`",
                    r.type_name()
                ),
            );
            continue;
        };
        let decision = match r.get("decision").map(|d| &d.value) {
            Some(NodeValue::String(d)) if VERDICTS.contains(&d.as_str()) || d == "borderline" => {
                d.clone()
            }
            Some(NodeValue::String(d)) => {
                problems.push(
                    doc,
                    &ptr(&at, "decision"),
                    format!(
                        "rule {i}: decision `{d}` is not a verdict: promote, demote, pilot, no_go"
                    ),
                );
                continue;
            }
            Some(_) => {
                problems.push(
                    doc,
                    &ptr(&at, "decision"),
                    format!("rule {i}: `decision` must be a string"),
                );
                continue;
            }
            None => {
                let hint = if r.get("id").is_some() {
                    "; this looks like an ApplyLens rule: use `gavel migrate applylens`"
                } else {
                    ""
                };
                problems.push(
                    doc,
                    &at,
                    format!("rule {i} has no `decision` (the seed's schema requires one){hint}"),
                );
                continue;
            }
        };
        let condition = match r.get("condition").map(|c| &c.value) {
            Some(NodeValue::String(c)) => c.clone(),
            Some(_) => {
                problems.push(
                    doc,
                    &ptr(&at, "condition"),
                    format!("rule {i}: `condition` must be a string such as `raroi < 1.5`"),
                );
                continue;
            }
            None => {
                problems.push(
                    doc,
                    &at,
                    format!("rule {i} has no `condition` (the seed's schema requires one)"),
                );
                continue;
            }
        };
        if let Some(unknown) = names(&condition)
            .into_iter()
            .find(|n| !MENACE_NAMES.contains(&n.as_str()))
        {
            changes.push(change(
                "rule_removed",
                "condition",
                match unknown.strip_suffix("()") {
                    Some(f) => format!(
                        "removed: `{condition}` calls `{f}`, and the seed's evaluator refuses calls \
                         (the rule never fired there)"
                    ),
                    None => format!(
                        "removed: `{condition}` reads `{unknown}`, which the seed's evaluator does \
                         not have (the rule never fired there)"
                    ),
                },
            ));
            continue;
        }
        if let Some(what) = seed_refuses(&condition) {
            changes.push(change(
                "rule_removed",
                "condition",
                format!(
                    "removed: `{condition}` uses {what}, which the seed's evaluator refuses \
                     (the rule never fired there); Gavel would evaluate it: write it back if you \
                     want it to decide"
                ),
            ));
            continue;
        }
        if let Err(e) = gavel_governance::expr::parse(&condition, &gavel_governance::NAMES) {
            problems.push(
                doc,
                &ptr(&at, "condition"),
                format!(
                    "rule {i}: `{condition}` at character {}: {}; rewrite the condition in what Gavel's \
                     conditions read (see the README's Governance section)",
                    e.position + 1,
                    e.message
                ),
            );
            continue;
        }
        let mut fields = vec![
            entry("decision", string(decision.clone())),
            entry("condition", string(condition)),
        ];
        // The seed's loader: `reason_code or reason`, else the decision; a
        // value that is not text is written as Python's `str` of it.
        let text = |field: &str| -> Option<String> {
            match r.get(field).map(|v| &v.value) {
                None | Some(NodeValue::Null) => None,
                Some(NodeValue::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
                Some(NodeValue::Bool(false)) => None,
                Some(NodeValue::Bool(true)) => Some("True".into()),
                Some(NodeValue::Int(0)) => None,
                Some(NodeValue::Int(n)) => Some(n.to_string()),
                Some(NodeValue::Float(f)) if *f == 0.0 => None,
                Some(NodeValue::Float(f)) => Some(f.to_string()),
                Some(NodeValue::Seq(v)) if v.is_empty() => None,
                Some(NodeValue::Map(v)) if v.is_empty() => None,
                Some(_) => Some(String::new()),
            }
        };
        for (k, v) in map {
            match k.name.as_str() {
                "decision" | "condition" | "reason_code" | "reason" => {}
                "description" => fields.push((k.clone(), v.clone())),
                other => problems.push(
                    doc,
                    &ptr(&at, other),
                    format!("rule {i}: `{other}` is not a rule field (`decision`, `condition`, `reason_code`)"),
                ),
            }
        }
        let (code, reason) = (text("reason_code"), text("reason"));
        match (code, reason) {
            (Some(c), _) if c.is_empty() => problems.push(
                doc,
                &ptr(&at, "reason_code"),
                format!("rule {i}: `reason_code` must be text such as `raroi_low`"),
            ),
            (None, Some(r)) if r.is_empty() => problems.push(
                doc,
                &ptr(&at, "reason"),
                format!("rule {i}: `reason` must be text such as `raroi_low`"),
            ),
            (Some(c), reason) => {
                if r.get("reason_code")
                    .is_some_and(|v| !matches!(v.value, NodeValue::String(_)))
                {
                    changes.push(change(
                        "reason_code_text",
                        "reason_code",
                        format!("written as the text `{c}`, as the seed's loader read it"),
                    ));
                }
                if reason.is_some() {
                    changes.push(change(
                        "dropped",
                        "reason",
                        "dropped: `reason_code` is also given, and the seed uses that one".into(),
                    ));
                }
                fields.push(entry("reason_code", string(c)));
            }
            (None, Some(reason)) => {
                changes.push(change(
                    "reason_renamed",
                    "reason",
                    if r.get("reason_code").is_some() {
                        "`reason_code` is empty, so the seed used `reason`: written as `reason_code`"
                            .into()
                    } else {
                        "renamed `reason_code` (Gavel's name)".into()
                    },
                ));
                fields.push(entry("reason_code", string(reason)));
            }
            (None, None) => {
                if r.get("reason_code").is_some() || r.get("reason").is_some() {
                    changes.push(change(
                        "reason_code_filled",
                        "reason_code",
                        format!(
                            "empty: written as the decision `{decision}`, as the seed's loader did"
                        ),
                    ));
                    fields.push(entry("reason_code", string(decision)));
                }
            }
        }
        out.push(node(NodeValue::Map(fields)));
    }
    out
}

/// What, outside quotes, the seed's evaluator refuses or cannot parse in a
/// condition that Gavel reads: a tuple or list literal, `&&`, `||` or `!`
/// (calls are found by [`names`]).
fn seed_refuses(condition: &str) -> Option<&'static str> {
    let mut quote = None;
    let mut chars = condition.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => return Some("a list literal"),
            (None, ',') => return Some("a tuple literal"),
            (None, '&') if chars.peek() == Some(&'&') => return Some("`&&` (Python writes `and`)"),
            (None, '|') if chars.peek() == Some(&'|') => return Some("`||` (Python writes `or`)"),
            (None, '!') if chars.peek() != Some(&'=') => return Some("`!` (Python writes `not`)"),
            _ => {}
        }
    }
    None
}

/// The names a condition reads (outside quotes; keywords and numbers left out).
fn names(condition: &str) -> Vec<String> {
    const KEYWORDS: [&str; 8] = ["and", "or", "not", "is", "in", "None", "True", "False"];
    let mut out = Vec::new();
    let mut chars = condition.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' {
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
            }
        } else if c.is_ascii_digit() || c == '.' {
            while chars
                .peek()
                .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '.' || *d == '_')
            {
                chars.next();
            }
        } else if c.is_alphabetic() || c == '_' {
            let mut word = c.to_string();
            while let Some(d) = chars
                .peek()
                .copied()
                .filter(|d| d.is_alphanumeric() || *d == '_')
            {
                word.push(d);
                chars.next();
            }
            if !KEYWORDS.contains(&word.as_str()) {
                // A call (`abs(x)`): the seed refuses calls, and the rule is skipped.
                let rest = chars.clone().find(|c| !c.is_whitespace());
                if rest == Some('(') {
                    word.push_str("()");
                }
                out.push(word);
            }
        }
    }
    out
}

/// The `gavel override issue` command that replaces an `overrides` mapping,
/// if it forces anything the seed would apply, and notes on what it drops.
fn override_command(flags: &[(Key, Node)]) -> (Option<String>, Vec<String>) {
    let get = |name: &str| flags.iter().find(|(k, _)| k.name == name).map(|(_, v)| v);
    let mut notes = Vec::new();
    // The seed takes `verdict`, else `forced_verdict`, when it is one of four.
    let forced = [get("verdict"), get("forced_verdict")]
        .into_iter()
        .flatten()
        .find(|v| truthy(v))
        .and_then(|v| v.as_str().map(str::to_string));
    let forced = match forced {
        Some(v) if VERDICTS.contains(&v.as_str()) => Some(v),
        Some(v) => {
            notes.push(format!(
                "its forced verdict `{v}` was ignored by the seed and is not carried over"
            ));
            None
        }
        None => None,
    };
    let bypass = get("bypass_micro_pilot").is_some_and(truthy);
    for (k, _) in flags {
        if ![
            "verdict",
            "forced_verdict",
            "bypass_micro_pilot",
            "reason",
            "override_path",
            "public_key_path",
        ]
        .contains(&k.name.as_str())
        {
            notes.push(format!(
                "`{}` is not an override flag and is not carried over",
                k.name
            ));
        }
    }
    if forced.is_none() && !bypass {
        return (None, notes);
    }
    let reason = get("reason")
        .and_then(Node::as_str)
        .filter(|r| r.chars().count() >= 10)
        .map_or_else(
            || format!("{PLACEHOLDER} why this workflow needs the override"),
            str::to_string,
        );
    let mut command = "gavel override issue --workflow WORKFLOW_ID".to_string();
    if let Some(v) = forced {
        let _ = write!(command, " --verdict {v}");
    }
    if bypass {
        command.push_str(" --bypass-micro-pilot");
    }
    let _ = write!(command, " --reason {}", shell_quote(&reason));
    (Some(command), notes)
}

/// Python's truth value of a YAML/JSON value.
fn truthy(v: &Node) -> bool {
    match &v.value {
        NodeValue::Null => false,
        NodeValue::Bool(b) => *b,
        NodeValue::Int(i) => *i != 0,
        NodeValue::Float(f) => *f != 0.0,
        NodeValue::String(s) => !s.is_empty(),
        NodeValue::Seq(s) => !s.is_empty(),
        NodeValue::Map(m) => !m.is_empty(),
    }
}

/// A POSIX shell word: as is when plain, else in single quotes.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':' | b'@')
        })
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ---------------------------------------------------------------- writing

/// A document serialized in its own key order, integers as integers.
#[derive(Debug)]
struct Ordered<'a>(&'a Node);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.0.value {
            NodeValue::Null => s.serialize_unit(),
            NodeValue::Bool(b) => s.serialize_bool(*b),
            NodeValue::Int(i) => s.serialize_i64(*i),
            NodeValue::Float(f) => s.serialize_f64(*f),
            NodeValue::String(v) => s.serialize_str(v),
            NodeValue::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Ordered(item))?;
                }
                seq.end()
            }
            NodeValue::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(&k.name, &Ordered(v))?;
                }
                map.end()
            }
        }
    }
}

fn to_json_pretty(doc: &Node) -> String {
    serde_json::to_string_pretty(&Ordered(doc)).unwrap_or_default()
}

/// Block YAML: a string or key that YAML could read as something else
/// (`true`, `1.0`, `a: b`) is written as a JSON string, which is a YAML
/// double-quoted scalar, so every value reads back as itself.
fn to_yaml(doc: &Node) -> String {
    let mut out = String::new();
    yaml_value(doc, 0, &mut out);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A string YAML reads back as the same string without quotes.
fn yaml_plain(s: &str) -> bool {
    const RESERVED: [&str; 11] = [
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "none", "nan",
    ];
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
}

fn yaml_string(s: &str) -> String {
    if yaml_plain(s) {
        return s.to_string();
    }
    // A JSON string is a YAML double-quoted one, except that YAML also
    // wants DEL and the C1 controls escaped, which JSON leaves raw.
    let quoted = serde_json::to_string(s).unwrap_or_default();
    let mut out = String::with_capacity(quoted.len());
    for c in quoted.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn yaml_scalar(v: &Node) -> Option<String> {
    Some(match &v.value {
        NodeValue::Null => "null".into(),
        NodeValue::Bool(b) => b.to_string(),
        NodeValue::Int(i) => i.to_string(),
        NodeValue::Float(f) => serde_json::to_string(f).unwrap_or_else(|_| "null".into()),
        NodeValue::String(s) => yaml_string(s),
        NodeValue::Seq(items) if items.is_empty() => "[]".into(),
        NodeValue::Map(entries) if entries.is_empty() => "{}".into(),
        _ => return None,
    })
}

/// Writes `v` as the value of a line already started (or at the top).
fn yaml_value(v: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match &v.value {
        NodeValue::Seq(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                match yaml_scalar(item) {
                    Some(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        // The item's first line continues after `- `.
                        let mut inner = String::new();
                        yaml_value(item, indent + 2, &mut inner);
                        out.push_str(inner.get(indent + 2..).unwrap_or_default());
                    }
                }
            }
        }
        NodeValue::Map(entries) if !entries.is_empty() => {
            for (k, item) in entries {
                out.push_str(&pad);
                out.push_str(&yaml_string(&k.name));
                out.push(':');
                match yaml_scalar(item) {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        out.push('\n');
                        yaml_value(item, indent + 2, out);
                    }
                }
            }
        }
        _ => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(v).unwrap_or_default());
            out.push('\n');
        }
    }
}
