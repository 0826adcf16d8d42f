//! `gavel agent run --config FILE` and `gavel agent check-config FILE`
//! (DESIGN §8, §11.11): thin over `gavel-agent`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use crate::OutputFormat;
use crate::failure::Failure;

#[derive(Debug, Clone, Subcommand)]
pub enum AgentCommand {
    /// Run the engine daemon: poll the bundle's rollout in the registry, verify it, serve decisions over HTTP.
    #[command(after_help = crate::examples::AGENT_RUN)]
    Run {
        /// The agent's YAML configuration (each key overridable by GAVEL_AGENT_… variables).
        #[arg(long)]
        config: String,
    },
    /// Check a configuration: exit 0 when valid, 2 with the key and why when not.
    #[command(after_help = crate::examples::AGENT_CHECK)]
    CheckConfig { file: String },
}

fn config_failure(file: &str, e: &gavel_agent::ConfigError) -> Failure {
    let mut f = Failure::new("invalid_config", format!("{file}: {e}"));
    f.exit = 2;
    f
}

pub fn agent(cmd: AgentCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    match cmd {
        AgentCommand::CheckConfig { file } => {
            let c = gavel_agent::config::load(Path::new(&file))
                .map_err(|e| config_failure(&file, &e))?;
            gavel_agent::check_files(&c).map_err(|m| {
                let mut f = Failure::new("invalid_config", format!("{file}: {m}"));
                f.exit = 2;
                f
            })?;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::json!({
                        "valid": true, "file": file, "listen": c.listen.to_string(),
                        "bundle": c.bundle, "environment": c.environment,
                        "registry": c.registry.url, "trusted_keys": c.trust.keys.len(),
                        "quorum": c.trust.quorum,
                    })
                ),
                _ => println!(
                    "{file}: valid; serves {} in {} from {} on {} ({} trusted key(s), quorum {})",
                    c.bundle,
                    c.environment,
                    c.registry.url,
                    c.listen,
                    c.trust.keys.len(),
                    c.trust.quorum
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Run { config } => {
            let c = gavel_agent::config::load(Path::new(&config))
                .map_err(|e| config_failure(&config, &e))?;
            // A worker a core the process may use; pinned to one core
            // (`taskset -c 0`), one thread does everything, without the
            // hand-offs between threads a multi-thread runtime makes.
            let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
            let rt = if one_core {
                tokio::runtime::Builder::new_current_thread()
            } else {
                tokio::runtime::Builder::new_multi_thread()
            }
            .enable_all()
            .build()
            .map_err(|e| Failure::new("io_error", format!("cannot start the runtime: {e}")))?;
            rt.block_on(gavel_agent::run(c))
                .map_err(|m| Failure::new("agent_failed", m))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
