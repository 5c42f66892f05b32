//! The one command: runs the benches and the load tool with `ROSTER_BENCH_OUT` naming a fresh
//! results file, each as its own `cargo`/binary child. A step that fails is noted on the page
//! and the run goes on, so that one missing server does not cost the other figures.

use crate::machine::RunInfo;
use crate::plot::number;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Group sizes for the scale and CardDAV benches.
    pub(crate) sizes: Vec<usize>,
    /// Connected terminals for the fan-out runs.
    pub(crate) terminals: Vec<usize>,
    /// Rounds of `roster-load push` per terminal count.
    pub(crate) rounds: usize,
}

fn list(values: &[usize]) -> String {
    values.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}

/// `PATH` with the virtualenv `.ci/run` installs Radicale and Xandikos into put first, when
/// it exists, so the CardDAV bench finds them as CI does.
fn path_with_ci_venv() -> Option<std::ffi::OsString> {
    let cache = std::env::var_os("ROSTER_CI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("roster-ci")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/roster-ci")))?;
    let bin = cache.join("venv/bin");
    if !bin.is_dir() {
        return None;
    }
    let mut paths = vec![bin];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).ok()
}

/// Runs one step in `root`, its output passed through; `Err` when it could not start or failed.
fn step(root: &Path, results: &Path, what: &str, program: &str, args: &[&str], env: &[(&str, String)]) -> Result<()> {
    eprintln!("roster-report: {what}: {program} {}", args.join(" "));
    let mut command = Command::new(program);
    command.current_dir(root).args(args).env("ROSTER_BENCH_OUT", results);
    if let Some(path) = path_with_ci_venv() {
        command.env("PATH", path);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command.status().with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Runs every step into `results` (emptied first) and says what ran in `info.notes`.
pub(crate) fn run(root: &Path, results: &Path, plan: &Plan, info: &mut RunInfo) -> Result<()> {
    if let Some(dir) = results.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(results, "").with_context(|| format!("emptying {}", results.display()))?;
    let sizes = list(&plan.sizes);
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut timed = |what: &str, result: Result<()>, since: Instant, notes: &mut Vec<String>| {
        let minutes = since.elapsed().as_secs_f64() / 60.0;
        match result {
            Ok(()) => notes.push(format!("{what}: {minutes:.1} min, its build included.")),
            Err(e) => {
                eprintln!("roster-report: {e:#}");
                failures.push(format!("{what}: {e:#}"));
            }
        }
    };

    let t = Instant::now();
    let scale = step(
        root,
        results,
        "scale bench",
        "cargo",
        &["bench", "-p", "roster-server", "--bench", "scale"],
        &[
            ("ROSTER_BENCH_SIZES", sizes.clone()),
            ("ROSTER_BENCH_ONLY", "sqlite".into()),
        ],
    );
    timed("Scale bench (SQLite)", scale, t, &mut info.notes);

    let t = Instant::now();
    let carddav = step(
        root,
        results,
        "CardDAV bench",
        "cargo",
        &[
            "bench",
            "-p",
            "roster-server",
            "--bench",
            "carddav",
            "--",
            "sync_scenarios",
        ],
        &[("ROSTER_BENCH_SIZES", sizes.clone())],
    );
    timed("CardDAV bench (sync scenarios)", carddav, t, &mut info.notes);

    let t = Instant::now();
    let build = step(
        root,
        results,
        "release build",
        "cargo",
        &["build", "--release", "-p", "roster", "-p", "roster-load"],
        &[],
    );
    let built = build.is_ok();
    timed("Release build of roster and roster-load", build, t, &mut info.notes);
    if built {
        let load = root.join("target/release/roster-load");
        let load = load.to_string_lossy();
        let rounds = plan.rounds.to_string();
        let t = Instant::now();
        for &n in &plan.terminals {
            let terminals = n.to_string();
            let result = step(
                root,
                results,
                &format!("fan-out to {n} terminals"),
                &load,
                &[
                    "--terminals",
                    &terminals,
                    "--members",
                    "100",
                    "--server-cpus",
                    "0",
                    "--tool-cpus",
                    "1",
                    "push",
                    "--rounds",
                    &rounds,
                ],
                &[],
            );
            if let Err(e) = result {
                eprintln!("roster-report: {e:#}");
                failures.push(format!("fan-out to {n} terminals: {e:#}"));
            }
        }
        info.notes
            .push(format!("Fan-out runs: {:.1} min.", t.elapsed().as_secs_f64() / 60.0));
    }

    let words = |values: &[usize]| {
        let words: Vec<String> = values.iter().map(|n| number(*n as f64)).collect();
        words.join(", ")
    };
    info.notes
        .insert(0, format!("Group sizes run: {}.", words(&plan.sizes)));
    info.notes.insert(
        1,
        format!(
            "Connected terminals run: {} ({} rounds each).",
            words(&plan.terminals),
            plan.rounds
        ),
    );
    for failure in failures {
        info.notes.push(format!("Failed: {failure}"));
    }
    info.seconds = Some(started.elapsed().as_secs_f64());
    Ok(())
}
