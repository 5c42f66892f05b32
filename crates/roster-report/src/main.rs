//! `roster-report`: runs the benchmarks and the load tool, and renders `docs/BENCHMARKS.md` with
//! one SVG line chart per figure from the JSON lines they append to `ROSTER_BENCH_OUT`.
//!
//! - `roster-report run`: measures (tens of minutes), then renders;
//! - `roster-report render [--results FILE]`: draws the page again from saved results.

mod catalog;
mod machine;
mod page;
mod plot;
mod results;
mod run;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use machine::RunInfo;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "Runs Roster's benchmarks and renders docs/BENCHMARKS.md with SVG plots")]
struct Cli {
    /// The workspace to run in and write docs/ under (default: the one this tool was built in).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// A sentence for the page's list of run facts (e.g. what else loaded the machine); repeatable.
    #[arg(long, global = true)]
    note: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benches and the load tool, keep their results, and render the page.
    Run {
        /// Group sizes for the scale and CardDAV benches (the CardDAV bench compares with
        /// Radicale and Xandikos only at 10,000).
        #[arg(
            long,
            env = "ROSTER_REPORT_SIZES",
            value_delimiter = ',',
            default_value = "100,1000,10000,100000"
        )]
        sizes: Vec<usize>,
        /// Connected terminals for the fan-out runs.
        #[arg(
            long,
            env = "ROSTER_REPORT_TERMINALS",
            value_delimiter = ',',
            default_value = "1000,2500,5000,10000"
        )]
        terminals: Vec<usize>,
        /// Rounds of `roster-load push` for each terminal count.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Render the page and the figures from a results file, measuring nothing.
    Render {
        /// The results (JSON lines); default docs/benchmarks/results.jsonl.
        #[arg(long)]
        results: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = match cli.root {
        Some(root) => root,
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
    };
    let root = std::fs::canonicalize(&root).with_context(|| format!("finding the workspace {}", root.display()))?;
    let docs = root.join("docs");
    let dir = docs.join("benchmarks");
    let saved = dir.join("results.jsonl");
    let run_json = dir.join("run.json");
    match cli.command {
        Command::Run {
            sizes,
            terminals,
            rounds,
        } => {
            let mut info = RunInfo::here();
            let plan = run::Plan {
                sizes,
                terminals,
                rounds,
            };
            run::run(&root, &saved, &plan, &mut info)?;
            info.notes.extend(cli.note);
            info.write(&run_json)?;
            render(&saved, &info, &docs)
        }
        Command::Render { results } => {
            let results = results.unwrap_or(saved);
            // The run's own facts when they were kept beside its results; else this machine's.
            let beside = results.with_file_name("run.json");
            let mut info = if beside.exists() {
                RunInfo::read(&beside)?
            } else {
                eprintln!(
                    "roster-report: no {}: captions name this machine and checkout",
                    beside.display()
                );
                RunInfo::here()
            };
            info.notes.extend(cli.note);
            render(&results, &info, &docs)
        }
    }
}

/// Draws every figure of `results` into `docs/benchmarks/` and writes `docs/BENCHMARKS.md`;
/// the results are copied to `docs/benchmarks/results.jsonl` when they come from elsewhere.
fn render(results: &Path, info: &RunInfo, docs: &Path) -> Result<()> {
    let parsed = results::read(results)?;
    for line in &parsed.skipped {
        eprintln!("roster-report: {}: skipped {line}", results.display());
    }
    if parsed.points.is_empty() {
        bail!("{} holds no results to draw", results.display());
    }
    let dir = docs.join("benchmarks");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let kept = dir.join("results.jsonl");
    if std::fs::canonicalize(results).ok() != std::fs::canonicalize(&kept).ok() {
        std::fs::copy(results, &kept).with_context(|| format!("copying the results to {}", kept.display()))?;
    }
    let figures = results::group(&parsed.points);
    let caption = info.caption();
    for (spec, figure) in page::ordered(&figures) {
        let svg = plot::svg(&spec, figure, &caption)?;
        let path = dir.join(format!("{}.svg", spec.id));
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("roster-report: wrote {}", path.display());
    }
    let page = page::render(&figures, info, &parsed.skipped);
    let path = docs.join("BENCHMARKS.md");
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("roster-report: wrote {}", path.display());
    Ok(())
}
