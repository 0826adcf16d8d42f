//! Gavel's engine daemon (DESIGN §8, §11.11): `gavel agent` pulls its
//! bundle's signed rollout from a registry, verifies it, serves decisions
//! over HTTP and keeps serving the last good version whatever the registry
//! does; and [`embed::Engine`], the engine with a policy file, a decision
//! cache and reload, for a Rust service that embeds it without a daemon.

mod agent;
pub mod config;
pub mod embed;
mod http;
mod serve;
pub mod verify;

use std::sync::Arc;

pub use agent::{Agent, LastPoll};
pub use config::{Config, ConfigError};
pub use verify::Refusal;

/// Runs the agent until the process is stopped: the last good version from
/// disk first, then the poller and the HTTP server on `config.listen`.
pub async fn run(config: Config) -> Result<(), String> {
    let listen = config.listen;
    let agent = Arc::new(Agent::new(config)?);
    agent.load_from_disk();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    agent.log(
        "info",
        "listening",
        serde_json::json!({"listen": listen.to_string(), "bundle": agent.config.bundle, "environment": agent.config.environment}),
    );
    tokio::spawn(Arc::clone(&agent).run_poller());
    axum::serve(listener, http::router(Arc::clone(&agent)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("the server stopped: {e}"))
}
