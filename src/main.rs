//! The `orchids2api` command: run the gateway (default), a mock upstream, or check a config.

use anyhow::Context;

/// mimalloc instead of the system allocator: a request allocates ~80 small blocks, and glibc's
/// malloc took ~10 % of the gateway's CPU under load (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use clap::{Parser, Subcommand};
use orchids2api::config::{Config, Overrides};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "orchids2api",
    version,
    about = "LLM API gateway: Anthropic Messages and OpenAI Chat Completions over pooled upstream accounts"
)]
struct Cli {
    /// Config file: TOML, or the original project's config.json (default: ./orchids2api.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides `listen`).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Directory for the embedded store and the media cache (overrides `data_dir`).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Load and validate the configuration, print what would run, and exit.
    CheckConfig,
    /// Run a mock upstream for tests, demos and benchmarks.
    Mock {
        /// openai | anthropic | warp | grok
        channel: orchids2api::mock::MockKind,
        /// Do not record requests (for load tests).
        #[arg(long)]
        no_record: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Some(Command::Mock { channel, no_record }) => {
            orchids2api::telemetry::init_logging("info", orchids2api::config::LogFormat::Text);
            let listen: SocketAddr =
                cli.listen.as_deref().unwrap_or("127.0.0.1:9001").parse().context("--listen")?;
            let recording =
                if no_record { orchids2api::mock::Recording::Off } else { orchids2api::mock::Recording::On };
            runtime.block_on(orchids2api::mock::run(channel, listen, recording))?;
            Ok(())
        }
        Some(Command::CheckConfig) => {
            let loaded = load(&cli)?;
            for warning in &loaded.warnings {
                println!("warning: {warning}");
            }
            let c = &loaded.config;
            println!(
                "ok: {} — listen {}, {} account(s), {} model(s), {} API key(s), auth {:?}, store {:?}",
                loaded.source.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "defaults".into()),
                c.listen,
                c.accounts.len(),
                c.models.len(),
                c.api_keys.len(),
                c.auth,
                c.store,
            );
            Ok(())
        }
        Some(Command::Serve) | None => {
            let loaded = load(&cli)?;
            let config = loaded.config;
            orchids2api::telemetry::init_logging(&config.log_level, config.log_format);
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            runtime.block_on(serve(config))
        }
    }
}

fn load(cli: &Cli) -> anyhow::Result<orchids2api::config::Loaded> {
    let overrides = Overrides {
        config_path: cli.config.clone(),
        listen: cli.listen.clone(),
        data_dir: cli.data_dir.clone(),
    };
    Ok(Config::load(&overrides, std::env::vars())?)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let _ = orchids2api::telemetry::metrics();
    let server = orchids2api::server::Server::start(&config).await?;
    tracing::info!(addr = %server.addr(), "orchids2api listening");
    shutdown_signal().await;
    tracing::info!(drain_timeout_s = config.drain_timeout_s, "shutting down");
    server.shutdown();
    server.wait().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
