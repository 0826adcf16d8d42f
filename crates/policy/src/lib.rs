//! Gavel's policy bundles: the model, parsing with source locations, schema
//! validation and the compiled engine that decides requests.
//!
//! This crate is pure: it does no IO (no files, network, environment or
//! clock). Time reaches it as a request's `timestamp`; files reach it as text.
//!
//! ```
//! use gavel_policy::{Effect, Engine, Format, Request, Value};
//!
//! let bundle = gavel_policy::parse_bundle(r#"
//! rules:
//!   - id: small-reindex
//!     agent: knowledge.search
//!     action: reindex
//!     effect: allow
//!     conditions: {"<=index_size_gb": 10}
//!     reason: Small reindex jobs are safe
//! "#, Format::Yaml)?;
//! let engine = Engine::compile(&bundle);
//! let request = Request::new("knowledge.search", "reindex").with_context(Value::Object(vec![
//!     ("index_size_gb".into(), Value::Number(4.0)),
//! ]));
//! let decision = engine.decide(&request);
//! assert_eq!(decision.effect, Effect::Allow);
//! assert_eq!(decision.rule_id(), Some("small-reindex"));
//! # Ok::<(), gavel_policy::LoadError>(())
//! ```
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod diff;
pub mod doc;
mod engine;
mod error;
mod json;
mod lint;
mod model;
mod region;
mod request_json;
pub mod sim;
mod texts;
mod validate;
mod value;
mod yaml;

pub use diff::{
    Bump, Class, Diff, FieldChange, MetadataChange, RuleChange, RuleEntry, diff, next_version,
};
pub use doc::{Location, Node, NodeValue};
pub use engine::{
    CompiledRule, Decision, Engine, EngineBuilder, EvalError, Explanation, NO_MATCH_REASON,
    SharedEngine, Step,
};
pub use error::{Diagnostic, LoadError, MAX_FILE_BYTES};
/// One JSON document read in one pass, without locations (see
/// [`json::parse_value`]).
pub use json::parse_value as parse_json_value;
pub use lint::{
    CHECKS, FINDING_BYTES, Finding, HIGH_COST, LintConfig, LintReport, Linter, MAX_NAMED_RULES,
    SHORT_REASON, Severity, Summary, TOTAL_FINDINGS_FACTOR, actions_overlap, agents_overlap,
    check_severity, describe_check, lint,
};
pub use model::{
    ActionPattern, AgentPattern, Budget, Bundle, Condition, ConditionKey, Effect, Field, Metadata,
    Op, Operand, Pattern, Risk, Rule, STANDARD_ACTIONS, is_path, parse_condition_key,
};
pub use validate::{
    BUNDLE_SCHEMA, Format, KEPT_PROBLEMS_PER_CHECK, MAX_LISTED_PROBLEMS, REGEX_BUNDLE_BUDGET,
    RULE_FIELDS, RULE_SCHEMA, did_you_mean, parse_bundle, parse_document,
};
pub use value::{Request, Value, parse_timestamp};
