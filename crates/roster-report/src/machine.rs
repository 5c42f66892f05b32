//! Where and from what a run was made: the machine (CPU model, cores, memory, kernel), the
//! commit and the date. Saved beside the results (`run.json`) so that a page re-rendered later
//! still names the machine and commit that produced the numbers, not the ones rendering them.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::Command;

/// The facts a figure's caption names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunInfo {
    /// CPU model, as /proc/cpuinfo names it.
    pub(crate) cpu: String,
    /// Logical CPUs.
    pub(crate) cores: usize,
    /// Total memory, GiB.
    pub(crate) memory_gib: f64,
    /// Kernel release.
    pub(crate) kernel: String,
    /// `git rev-parse --short HEAD`, with `-dirty` when the tree had changes.
    pub(crate) commit: String,
    /// The run's day, `YYYY-MM-DD` (UTC).
    pub(crate) date: String,
    /// Wall time of the whole run, seconds, when it was a run (not a render of older results).
    #[serde(default)]
    pub(crate) seconds: Option<f64>,
    /// Sizes and options the run used, in words, for the page.
    #[serde(default)]
    pub(crate) notes: Vec<String>,
}

impl RunInfo {
    /// The facts of this machine and checkout, now.
    pub(crate) fn here() -> RunInfo {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        RunInfo {
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".into()),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: memory_kib(&meminfo).map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            commit: commit(),
            date: today(),
            seconds: None,
            notes: Vec::new(),
        }
    }

    /// The machine in one phrase: `AMD EPYC 7B13, 2 cores, 23.5 GiB, Linux 6.1.0`.
    pub(crate) fn machine(&self) -> String {
        format!(
            "{}, {} cores, {:.1} GiB, Linux {}",
            self.cpu, self.cores, self.memory_gib, self.kernel
        )
    }

    /// The caption every figure carries.
    pub(crate) fn caption(&self) -> String {
        format!("{} · commit {} · {}", self.machine(), self.commit, self.date)
    }

    /// Reads `run.json`.
    pub(crate) fn read(path: &Path) -> Result<RunInfo> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes `run.json`.
    pub(crate) fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.split_whitespace().collect::<Vec<_>>().join(" "))
    })
}

fn memory_kib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn commit() -> String {
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    // Untracked files do not change what was built from tracked ones.
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(status) if status.is_empty() => head,
        _ => format!("{head}-dirty"),
    }
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown date".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpu_model_and_memory() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC  7B13 64-Core Processor\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13 64-Core Processor"));
        assert_eq!(
            memory_kib("MemTotal:       24570000 kB\nMemFree: 1 kB\n"),
            Some(24_570_000)
        );
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn run_info_round_trips_and_captions() {
        let info = RunInfo {
            cpu: "Test CPU".into(),
            cores: 2,
            memory_gib: 23.44,
            kernel: "6.1.0".into(),
            commit: "abc1234-dirty".into(),
            date: "2026-12-08".into(),
            seconds: Some(12.0),
            notes: vec!["sizes 100".into()],
        };
        assert_eq!(
            info.caption(),
            "Test CPU, 2 cores, 23.4 GiB, Linux 6.1.0 · commit abc1234-dirty · 2026-12-08"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        info.write(&path).unwrap();
        assert_eq!(RunInfo::read(&path).unwrap(), info);
    }
}
