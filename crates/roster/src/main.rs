//! `roster`: the Roster server (`roster serve`) and its terminal client (every other command).

mod client;

use clap::{Parser, Subcommand};
use roster_server::config::ServeArgs;
use roster_server::{Application, Config};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Roster: a self-hosted group directory.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true, after_help = client::exit::HELP)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (SQLite in ./roster-data by default).
    Serve(ServeArgs),
    #[command(flatten)]
    Client(client::Command),
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args)?;
    init_logging(config.log_json);
    let app = Application::build(config).await?;
    app.run_until(roster_server::app::shutdown_signal()).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Client(command) => client::run(command, cli.json).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the error: scripts read stderr line by line.
            let message = format!("{e:#}").replace(['\n', '\r'], " ");
            anstream::eprintln!("roster: {message}");
            ExitCode::from(client::exit::code(&e))
        }
    }
}
