//! Gavel's engine behind the [`Peer`] interface: requests decoded by
//! [`Request::from_json`] (the one-pass reader `gavel decide` and the agent
//! use, borrowing strings from the text), decided by [`Engine::decide`].

use anyhow::Context as _;
use gavel_policy::{Effect, Engine, Format, Request, parse_bundle};

use crate::Peer;

#[derive(Debug)]
pub struct GavelPeer {
    engine: Engine,
}

impl GavelPeer {
    /// Parses, validates and compiles a bundle's JSON text.
    pub fn new(bundle_json: &str) -> anyhow::Result<GavelPeer> {
        let bundle = parse_bundle(bundle_json, Format::Json).context("gavel bundle")?;
        Ok(GavelPeer {
            engine: Engine::compile(&bundle),
        })
    }

    /// How many rules the engine tried for a request before its decision
    /// (the shape of the benchmark: about six at 1,000 rules).
    pub fn examined(&self, request: &Request<'_>) -> usize {
        self.engine.explain(request).steps.len()
    }
}

impl Peer for GavelPeer {
    type Prepared = Request<'static>;

    fn prepare(&self, text: &str) -> anyhow::Result<Request<'static>> {
        let r = Request::from_json(text).context("gavel request")?;
        Ok(Request::new(r.agent.into_owned(), r.action.into_owned())
            .with_context(r.context.into_owned()))
    }

    fn decide(&mut self, request: &Request<'static>) -> anyhow::Result<Effect> {
        Ok(self.engine.decide(request).effect)
    }

    fn decide_json(&mut self, text: &str) -> anyhow::Result<Effect> {
        let request = Request::from_json(text).context("gavel request")?;
        Ok(self.engine.decide(&request).effect)
    }
}
