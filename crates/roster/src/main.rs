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
    /// Check the configured database (reachable, migrations current, writable) and bus, one
    /// line each; then read every stored phone number again with today's rules and list what
    /// would change (the server does this by itself when it starts with new rules).
    Doctor(DoctorArgs),
    /// Copy a whole installation into an empty database (e.g. SQLite to PostgreSQL), verify
    /// every table and every group's directory, and commit it in one step. Stop the server
    /// first: the source is read in one snapshot and never changed.
    MigrateStore(MigrateStoreArgs),
    /// Write a consistent copy of the whole installation to a new file while the server runs
    /// and writes go on (a SQLite file, whatever the database).
    Backup(BackupArgs),
    /// Restore a backup into an empty data folder or database. Every terminal then loads each
    /// directory once more, so none keeps a change the backup does not have.
    Restore(RestoreArgs),
    #[command(flatten)]
    Client(client::Command),
}

/// `roster doctor`: the server's settings, and whether to correct what is found.
#[derive(Debug, clap::Args)]
struct DoctorArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Store the corrected numbers (one change per card, sent to every terminal).
    #[arg(long)]
    fix: bool,
}

/// `roster migrate-store`: where from and where to.
#[derive(Debug, clap::Args)]
struct MigrateStoreArgs {
    /// The installation's database now (e.g. sqlite://roster-data/roster.db).
    #[arg(long, value_name = "URL")]
    from: String,
    /// The empty database to move it to (e.g. postgres://roster@db/roster); created tables
    /// and all.
    #[arg(long, value_name = "URL")]
    to: String,
}

/// `roster backup`: the server's settings and the file to write.
#[derive(Debug, clap::Args)]
struct BackupArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// The new file to write (never overwritten).
    #[arg(long, value_name = "FILE")]
    to: std::path::PathBuf,
}

/// `roster restore`: the backup and the server's settings (the empty database to fill).
#[derive(Debug, clap::Args)]
struct RestoreArgs {
    /// A file written by `roster backup` or by the server's schedule.
    #[arg(value_name = "FILE")]
    file: std::path::PathBuf,
    #[command(flatten)]
    serve: ServeArgs,
}

async fn backup(args: BackupArgs, json: bool) -> anyhow::Result<()> {
    let config = Config::load(&args.serve)?;
    let database = roster_server::store::Database::open(
        &config.database_url,
        &config.database,
        roster_server::store::Migrate::No,
    )
    .await?;
    let made = roster_server::store::backup::backup(&database, &config.database_url, &args.to).await?;
    if json {
        println!("{}", serde_json::json!(made));
    } else {
        println!(
            "backed up {} accounts and {} groups to {} ({} bytes)",
            made.accounts,
            made.groups,
            made.path.display(),
            made.bytes
        );
    }
    Ok(())
}

async fn restore(args: RestoreArgs, json: bool) -> anyhow::Result<()> {
    let config = Config::load(&args.serve)?;
    let restored = roster_server::store::backup::restore(&args.file, &config.database_url).await?;
    if json {
        println!("{}", serde_json::json!(restored));
    } else {
        println!(
            "restored {} accounts and {} groups into {}; every terminal will load its directories once more",
            restored.accounts, restored.groups, restored.database
        );
    }
    Ok(())
}

async fn migrate_store(args: MigrateStoreArgs, json: bool) -> anyhow::Result<()> {
    let mut progress = |table: &roster_server::store::migrate::TableMoved| {
        eprintln!("{:<20} {:>10} rows  sha256 {}", table.table, table.rows, table.checksum);
    };
    let moved = roster_server::store::migrate::migrate_store(&args.from, &args.to, &mut progress).await?;
    if json {
        println!("{}", serde_json::json!(moved));
    } else {
        let rows: u64 = moved.tables.iter().map(|table| table.rows).sum();
        println!(
            "moved {rows} rows in {} tables; every table and the directories of {} groups verified",
            moved.tables.len(),
            moved.directories
        );
        println!(
            "start the server with --database-url {}",
            roster_server::store::redacted(&args.to)
        );
    }
    Ok(())
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

async fn doctor(args: DoctorArgs, json: bool) -> anyhow::Result<()> {
    let config = Config::load(&args.serve)?;
    let checks = roster_server::checkup::run(&config).await;
    let failed = checks.iter().filter(|check| !check.ok).count();
    if failed > 0 {
        if json {
            println!("{}", serde_json::json!({ "checks": checks }));
        } else {
            for check in &checks {
                println!("{}", check.line());
            }
        }
        anyhow::bail!("{failed} of {} checks failed; phone numbers not checked", checks.len());
    }
    let report = roster_server::app::check_phones(&config, args.fix).await?;
    let finding = |f: &roster_server::domain::doctor::PhoneFinding| {
        serde_json::json!({
            "account": f.account.to_string(),
            "typed": f.typed,
            "region": f.region,
            "stored": f.stored.as_str(),
            "now": f.now.as_ref().map(|n| n.as_str()),
        })
    };
    if json {
        let out = serde_json::json!({
            "checks": checks,
            "cards": report.cards,
            "numbers": report.numbers,
            "changed": report.changed.iter().map(finding).collect::<Vec<_>>(),
            "invalid": report.invalid.iter().map(finding).collect::<Vec<_>>(),
            "cards_corrected": report.cards_corrected,
        });
        println!("{out}");
        return Ok(());
    }
    for check in &checks {
        println!("{}", check.line());
    }
    println!("{} phone numbers on {} cards read again", report.numbers, report.cards);
    for f in &report.changed {
        let now = f.now.as_ref().map_or("", |n| n.as_str());
        let typed = f.typed.as_deref().unwrap_or("");
        let region = f.region.as_deref().unwrap_or("");
        println!("changed  {}  {typed:?} ({region}): {} -> {now}", f.account, f.stored);
    }
    for f in &report.invalid {
        let typed = f.typed.as_deref().unwrap_or("");
        println!(
            "invalid  {}  {typed:?}: {} is no longer a valid number",
            f.account, f.stored
        );
    }
    if args.fix {
        println!("{} cards corrected", report.cards_corrected);
    } else if !report.changed.is_empty() {
        println!("run again with --fix to store the corrected numbers");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Doctor(args) => doctor(args, cli.json).await,
        Command::MigrateStore(args) => migrate_store(args, cli.json).await,
        Command::Backup(args) => backup(args, cli.json).await,
        Command::Restore(args) => restore(args, cli.json).await,
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
