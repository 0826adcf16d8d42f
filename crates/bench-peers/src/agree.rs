//! The agreement check: every engine decides the shared requests, from a
//! prepared request and from its JSON text, and each answer is compared
//! with what the layered semantics say ([`BundleSpec::expected`]), so an
//! engine that disagrees is named.

use std::fmt;

use anyhow::Context as _;
use gavel_policy::{Effect, Request};

use crate::cedar::CedarPeer;
use crate::gavel::GavelPeer;
use crate::rego::{RegorusPeer, RvmPeer};
use crate::{BundleSpec, Peer, RequestSpec, Translations};

/// One request on which some engine gave another answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    /// Position in the shared requests.
    pub index: usize,
    pub request: String,
    pub expected: Effect,
    /// Each engine's answers: prepared, then from JSON text where checked.
    pub answers: Vec<(&'static str, Effect)>,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request {} `{}`: expected {}",
            self.index,
            self.request,
            self.expected.as_str()
        )?;
        for (engine, effect) in &self.answers {
            write!(f, ", {engine} {}", effect.as_str())?;
        }
        Ok(())
    }
}

/// What the check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Requests Gavel decided (all of them).
    pub checked: usize,
    pub disagreements: Vec<Disagreement>,
    /// Requests by expected effect: allow, deny, needs_approval.
    pub effects: [usize; 3],
    /// How many rules Gavel tried a request, on average.
    pub examined_mean: f64,
}

/// The engines built from one bundle's translations.
#[derive(Debug)]
pub struct Engines {
    pub gavel: GavelPeer,
    pub cedar: CedarPeer,
    /// regorus's interpreter on the rule bodies.
    pub regorus: RegorusPeer,
    /// regorus's virtual machine on the rule bodies, or why it refused
    /// them (at 10,000 rules the program is over its 65,535 instructions).
    pub rvm: Result<RvmPeer, String>,
    /// regorus's interpreter on the rules as indexed data.
    pub regorus_indexed: RegorusPeer,
    /// regorus's virtual machine on the rules as indexed data.
    pub rvm_indexed: RvmPeer,
}

impl Engines {
    pub fn new(t: &Translations) -> anyhow::Result<Engines> {
        Ok(Engines {
            gavel: GavelPeer::new(&t.gavel)?,
            cedar: CedarPeer::new(&t.cedar)?,
            regorus: RegorusPeer::new(&t.rego)?,
            rvm: RvmPeer::new(&t.rego).map_err(|e| format!("{e:#}")),
            regorus_indexed: RegorusPeer::new(&t.rego_indexed)?,
            rvm_indexed: RvmPeer::new(&t.rego_indexed)?,
        })
    }
}

/// How many of the shared requests each engine decides in a check. Gavel
/// decides every request, prepared and from JSON text; the peers, at
/// 1–10 ms a decision with 10,000 rules, may decide fewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// The first `peers` requests: Cedar and regorus decide them prepared.
    pub peers: usize,
    /// The first `peers_json` requests: Cedar and regorus also decide them
    /// from JSON text (the same decision after another decoding).
    pub peers_json: usize,
}

impl Scope {
    /// Every engine, every request, both ways.
    pub const ALL: Scope = Scope {
        peers: usize::MAX,
        peers_json: usize::MAX,
    };
}

fn decide<P: Peer>(
    peer: &mut P,
    name: &'static str,
    text: &str,
    json: bool,
    answers: &mut Vec<(&'static str, Effect)>,
) -> anyhow::Result<()> {
    let prepared = peer.prepare(text)?;
    answers.push((name, peer.decide(&prepared)?));
    if json {
        answers.push((name, peer.decide_json(text)?));
    }
    Ok(())
}

/// Decides the shared requests with every engine built from
/// `translations` (as far as `scope` says) and compares each answer with
/// `spec.expected`.
pub fn check(
    spec: &BundleSpec,
    translations: &Translations,
    requests: &[RequestSpec],
    scope: Scope,
) -> anyhow::Result<Report> {
    let mut engines = Engines::new(translations)?;
    let mut report = Report {
        checked: requests.len(),
        ..Report::default()
    };
    let mut examined = 0usize;
    for (index, request) in requests.iter().enumerate() {
        let text = request.json();
        let expected = spec.expected(request);
        report.effects[match expected {
            Effect::Allow => 0,
            Effect::Deny => 1,
            Effect::NeedsApproval => 2,
        }] += 1;
        let decoded: Request<'_> = serde_json::from_str(&text).context("request")?;
        examined += engines.gavel.examined(&decoded);
        let mut answers = Vec::with_capacity(12);
        decide(&mut engines.gavel, "gavel", &text, true, &mut answers)?;
        if index < scope.peers {
            let json = index < scope.peers_json;
            decide(&mut engines.cedar, "cedar", &text, json, &mut answers)?;
            decide(&mut engines.regorus, "regorus", &text, json, &mut answers)?;
            if let Ok(rvm) = &mut engines.rvm {
                decide(rvm, "regorus-rvm", &text, json, &mut answers)?;
            }
            let (ri, vi) = (&mut engines.regorus_indexed, &mut engines.rvm_indexed);
            decide(ri, "regorus-indexed", &text, json, &mut answers)?;
            decide(vi, "regorus-indexed-rvm", &text, json, &mut answers)?;
        }
        if answers.iter().any(|(_, e)| *e != expected) {
            report.disagreements.push(Disagreement {
                index,
                request: text,
                expected,
                answers,
            });
        }
    }
    report.examined_mean = examined as f64 / requests.len().max(1) as f64;
    Ok(report)
}
