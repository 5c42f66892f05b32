//! Figures as JSON lines, for tools that draw or compare them across runs: when
//! `ROSTER_BENCH_OUT` names a file, each [`record`] appends one object to it. A benchmark
//! includes this file as a module of its own (`#[path = "common/out.rs"] mod out;`), so that
//! benchmarks that record nothing do not carry it; `roster-load` includes it too. Writing a figure must never fail a
//! benchmark run: an I/O error is only reported on stderr.

use serde::Serialize;
use std::fs::OpenOptions;
use std::io::Write;

/// One line of the file, fields in this order.
#[derive(Serialize)]
struct Figure<'a> {
    figure: &'a str,
    series: &'a str,
    x: serde_json::Value,
    y: serde_json::Value,
    unit: &'a str,
}

/// A whole number as an integer (`10000`, not `10000.0`), so that a size reads as it is written.
fn number(value: f64) -> serde_json::Value {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        serde_json::Value::from(value as i64)
    } else {
        // NaN and infinities have no JSON form; they become null.
        serde_json::Value::from(value)
    }
}

/// Appends `{"figure":…,"series":…,"x":…,"y":…,"unit":…}` to the file `ROSTER_BENCH_OUT` names;
/// does nothing when it is unset.
#[allow(unreachable_pub)] // each benchmark crate includes this file as a private module
pub fn record(figure: &str, series: &str, x: f64, y: f64, unit: &str) {
    let Some(path) = std::env::var_os("ROSTER_BENCH_OUT") else {
        return;
    };
    let line = Figure {
        figure,
        series,
        x: number(x),
        y: number(y),
        unit,
    };
    let written = serde_json::to_string(&line)
        .map_err(std::io::Error::other)
        .and_then(|line| {
            let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
            // One write per line, so that lines appended by concurrent benchmarks stay whole.
            file.write_all(format!("{line}\n").as_bytes())
        });
    if let Err(error) = written {
        eprintln!(
            "warning: figure {figure}/{series} not written to ROSTER_BENCH_OUT={}: {error}",
            std::path::Path::new(&path).display()
        );
    }
}
