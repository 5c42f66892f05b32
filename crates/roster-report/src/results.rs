//! The results file: one JSON object a line, as the benches and the load tool append them
//! (`{"figure","series","x","y","unit"}`), read back and grouped into figures and series.
//! Knows nothing of plotting or Markdown.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// One measurement, as a bench or the load tool wrote it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Point {
    pub(crate) figure: String,
    pub(crate) series: String,
    pub(crate) x: f64,
    pub(crate) y: f64,
    pub(crate) unit: String,
}

/// What reading a results file gave: the points, and a message for each line it skipped.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) points: Vec<Point>,
    pub(crate) skipped: Vec<String>,
}

/// Parses JSONL text. A malformed line is skipped with a message naming it, so that one
/// interrupted write (a bench killed mid-line) does not lose the rest of a long run.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Point>(line) {
            Ok(point) if !point.x.is_finite() || !point.y.is_finite() => parsed
                .skipped
                .push(format!("line {}: x and y must be finite numbers", n + 1)),
            Ok(point) if point.figure.is_empty() || point.series.is_empty() => {
                parsed.skipped.push(format!("line {}: empty figure or series", n + 1))
            }
            Ok(point) => parsed.points.push(point),
            Err(error) => parsed.skipped.push(format!("line {}: {error}", n + 1)),
        }
    }
    parsed
}

/// Reads and parses a results file.
pub(crate) fn read(path: &Path) -> Result<Parsed> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the results file {}", path.display()))?;
    Ok(parse(&text))
}

/// One line of a figure: its points sorted by x, one per x.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) points: Vec<(f64, f64)>,
}

/// The points of one figure id, by series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Figure {
    pub(crate) id: String,
    /// The unit of y, from its points (the first one's, when they disagree).
    pub(crate) unit: String,
    /// In order of first appearance in the results, so a run controls the legend's order.
    pub(crate) series: Vec<Series>,
}

impl Figure {
    /// Every x of any series, ascending, once each.
    pub(crate) fn xs(&self) -> Vec<f64> {
        let mut xs: Vec<f64> = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        xs
    }

    /// The y of `series` at `x`, if measured.
    pub(crate) fn y(&self, series: &str, x: f64) -> Option<f64> {
        self.series
            .iter()
            .find(|s| s.name == series)?
            .points
            .iter()
            .find(|p| p.0 == x)
            .map(|p| p.1)
    }
}

/// Groups points into figures (sorted by id) and series. When one series has the same x
/// twice (a bench re-run appending to the same file), the later point wins.
pub(crate) fn group(points: &[Point]) -> Vec<Figure> {
    let mut figures: BTreeMap<&str, Figure> = BTreeMap::new();
    for point in points {
        let figure = figures.entry(&point.figure).or_insert_with(|| Figure {
            id: point.figure.clone(),
            unit: point.unit.clone(),
            series: Vec::new(),
        });
        let series = match figure.series.iter_mut().position(|s| s.name == point.series) {
            Some(i) => &mut figure.series[i],
            None => {
                figure.series.push(Series {
                    name: point.series.clone(),
                    points: Vec::new(),
                });
                let last = figure.series.len() - 1;
                &mut figure.series[last]
            }
        };
        series.points.retain(|p| p.0 != point.x);
        series.points.push((point.x, point.y));
    }
    let mut figures: Vec<Figure> = figures.into_values().collect();
    for figure in &mut figures {
        for series in &mut figure.series {
            series.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_names_the_malformed_ones() {
        let text = r#"{"figure":"fanout","series":"p50","x":1000,"y":3.5,"unit":"ms"}

{"figure":"fanout","series":"p99","x":1000,"y":9,"unit":"ms"}
{"figure":"fanout","series":"p50","x":2500
not json
{"figure":"fanout","series":"p50","x":"many","y":1,"unit":"ms"}
{"figure":"","series":"p50","x":1,"y":1,"unit":"ms"}
"#;
        let parsed = parse(text);
        assert_eq!(parsed.points.len(), 2);
        assert_eq!(parsed.points[1].series, "p99");
        assert_eq!(parsed.points[1].y, 9.0);
        assert_eq!(parsed.skipped.len(), 4, "{:?}", parsed.skipped);
        assert!(parsed.skipped[0].starts_with("line 4: "), "{}", parsed.skipped[0]);
        assert!(parsed.skipped[1].starts_with("line 5: "));
        assert!(parsed.skipped[2].starts_with("line 6: "));
        assert_eq!(parsed.skipped[3], "line 7: empty figure or series");
    }

    #[test]
    fn reading_a_missing_file_names_it() {
        let error = read(Path::new("/nonexistent/results.jsonl")).unwrap_err();
        assert!(format!("{error:#}").contains("/nonexistent/results.jsonl"));
    }

    fn point(figure: &str, series: &str, x: f64, y: f64) -> Point {
        Point {
            figure: figure.into(),
            series: series.into(),
            x,
            y,
            unit: "ms".into(),
        }
    }

    #[test]
    fn groups_by_figure_and_series_sorted_by_x_later_point_winning() {
        let figures = group(&[
            point("b", "Roster", 10_000.0, 2.0),
            point("b", "Radicale", 10_000.0, 70.0),
            point("a", "SQLite", 100_000.0, 5.0),
            point("b", "Roster", 100.0, 1.0),
            point("a", "SQLite", 100.0, 4.0),
            point("b", "Roster", 10_000.0, 3.0),
        ]);
        assert_eq!(figures.len(), 2);
        assert_eq!(figures[0].id, "a");
        assert_eq!(figures[0].series[0].points, vec![(100.0, 4.0), (100_000.0, 5.0)]);
        let b = &figures[1];
        let names: Vec<&str> = b.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Roster", "Radicale"]);
        assert_eq!(b.series[0].points, vec![(100.0, 1.0), (10_000.0, 3.0)]);
        assert_eq!(b.xs(), vec![100.0, 10_000.0]);
        assert_eq!(b.y("Radicale", 10_000.0), Some(70.0));
        assert_eq!(b.y("Radicale", 100.0), None);
    }
}
