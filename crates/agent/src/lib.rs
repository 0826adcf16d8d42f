//! Gavel's engine daemon (DESIGN §8, §11.11): `gavel agent` pulls its
//! bundle's signed rollout from a registry, verifies it, serves decisions
//! over HTTP and keeps serving the last good version whatever the registry
//! does; and [`embed::Engine`], the engine with a policy file, a decision
//! cache and reload, for a Rust service that embeds it without a daemon.

mod agent;
pub mod body;
pub mod config;
pub mod embed;
mod http;
mod serve;
mod server;
mod tls;
pub mod verify;

use std::sync::Arc;

pub use agent::{Agent, LastPoll};
pub use config::{Config, ConfigError};
pub use verify::Refusal;

/// Checks what the configuration names but does not hold: the TLS
/// certificate and key make a usable pair.
pub fn check_files(config: &Config) -> Result<(), String> {
    if let Some(t) = &config.tls {
        tls::server_config(t)?;
    }
    Ok(())
}

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
    let app = http::router(Arc::clone(&agent));
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match agent
        .config
        .tls
        .as_ref()
        .map(tls::server_config)
        .transpose()?
    {
        Some(config) => {
            let listener = tls::TlsListener::new(listener, config, &agent.config.limits)
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            server::serve(listener, agent, app, stop).await;
        }
        None => {
            use axum::serve::ListenerExt as _;
            // Answers go out at once, not held back for Nagle's algorithm.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            server::serve(listener, agent, app, stop).await;
        }
    }
    Ok(())
}
