//! One figure drawn as an SVG line chart: a line with points and a legend entry per series,
//! axes labelled with their units, and the run's caption (machine, commit, date) inside the
//! image, so that a figure copied elsewhere still says where it came from.

use crate::catalog::Spec;
use crate::results::Figure;
use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 540;
/// Height of the band under the chart that holds the caption.
const FOOTER: u32 = 30;

/// Colours that stay apart in print and for the common colour-vision deficiencies.
const COLOURS: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// A number as the axes and tables print it: thousands separated, about three digits shown.
pub(crate) fn number(v: f64) -> String {
    if v.abs() >= 1000.0 || (v.fract() == 0.0 && v.abs() >= 1.0) {
        let digits = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else if v == 0.0 {
        "0".into()
    } else {
        format!("{v:.3}")
    }
}

/// The span of an axis: padded, and never empty.
fn span(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        (lo, hi) = (1.0, 10.0);
    }
    if log {
        let lo = if lo > 0.0 { lo } else { 1e-3 };
        let hi = hi.max(lo);
        (lo / 1.6, hi * 1.6)
    } else {
        let hi = if hi > 0.0 { hi * 1.1 } else { 1.0 };
        (lo.min(0.0), hi)
    }
}

/// Draws `figure` as SVG text.
pub(crate) fn svg(spec: &Spec, figure: &Figure, caption: &str) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("drawing {}: {e}", spec.id))?;
        let (chart_area, footer) = root.split_vertically(HEIGHT - FOOTER);
        footer
            .draw_text(
                caption,
                &("sans-serif", 13).into_font().color(&BLACK.mix(0.75)),
                (12, 8),
            )
            .map_err(|e| anyhow!("drawing {}: {e}", spec.id))?;
        let ys = figure.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
        let (y_lo, y_hi) = span(ys.clone(), false);
        // A log y axis when the series are orders of magnitude apart (a first page beside the
        // whole directory), so that the small one is not a flat line on the floor.
        let positive = ys.clone().filter(|y| *y > 0.0);
        let (min, max) = positive.fold((f64::INFINITY, 0.0f64), |(a, b), y| (a.min(y), b.max(y)));
        let log_y = max / min > 50.0;
        let xs = figure.xs().into_iter();
        let (x_lo, x_hi) = span(xs, spec.log_x);
        match (spec.log_x, log_y) {
            (true, true) => {
                let (y_lo, y_hi) = span(ys, true);
                chart(
                    &chart_area,
                    spec,
                    figure,
                    (x_lo..x_hi).log_scale(),
                    (y_lo..y_hi).log_scale(),
                )
            }
            (true, false) => chart(&chart_area, spec, figure, (x_lo..x_hi).log_scale(), y_lo..y_hi),
            (false, true) => {
                let (y_lo, y_hi) = span(ys, true);
                chart(&chart_area, spec, figure, x_lo..x_hi, (y_lo..y_hi).log_scale())
            }
            (false, false) => chart(&chart_area, spec, figure, x_lo..x_hi, y_lo..y_hi),
        }?;
        root.present().map_err(|e| anyhow!("drawing {}: {e}", spec.id))?;
    }
    Ok(out)
}

fn chart<X, Y>(area: &DrawingArea<SVGBackend<'_>, Shift>, spec: &Spec, figure: &Figure, x: X, y: Y) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let failed = |e: DrawingAreaErrorKind<std::io::Error>| anyhow!("drawing {}: {e}", spec.id);
    let mut chart = ChartBuilder::on(area)
        .caption(&spec.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(failed)?;
    chart
        .configure_mesh()
        .x_desc(&spec.x_label)
        .y_desc(format!("{} ({})", spec.y_what, figure.unit))
        .x_label_formatter(&|v| number(*v))
        .y_label_formatter(&|v| number(*v))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(failed)?;
    for (i, series) in figure.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(series.points.iter().copied(), colour.stroke_width(2)))
            .map_err(failed)?
            .label(&series.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        chart
            .draw_series(series.points.iter().map(|p| Circle::new(*p, 4, colour.filled())))
            .map_err(failed)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::lookup;
    use crate::results::{Point, group};

    fn figure(id: &str, points: &[(&str, f64, f64)]) -> Figure {
        let points: Vec<Point> = points
            .iter()
            .map(|(series, x, y)| Point {
                figure: id.into(),
                series: (*series).into(),
                x: *x,
                y: *y,
                unit: "ms".into(),
            })
            .collect();
        group(&points).remove(0)
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(number(100_000.0), "100,000");
        assert_eq!(number(2500.0), "2,500");
        assert_eq!(number(6960.4), "6,960");
        assert_eq!(number(190.4), "190");
        assert_eq!(number(36.64), "36.6");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(0.0421), "0.042");
        assert_eq!(number(0.0), "0");
    }

    #[test]
    fn an_svg_carries_the_caption_title_axes_and_every_series() {
        let fig = figure(
            "group-size-directory",
            &[
                ("SQLite, first page", 100.0, 0.4),
                ("SQLite, first page", 100_000.0, 0.5),
                ("SQLite, whole directory", 100.0, 0.9),
                ("SQLite, whole directory", 100_000.0, 900.0),
            ],
        );
        let svg = svg(&lookup("group-size-directory"), &fig, "Test CPU · commit abc1234").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        for text in [
            "Test CPU · commit abc1234",
            "Directory reads vs group size",
            "members of the group",
            "time (ms)",
            "SQLite, first page",
            "SQLite, whole directory",
            "100,000",
        ] {
            assert!(svg.contains(text), "no {text:?} in the SVG");
        }
        assert!(svg.contains("<circle"));
        assert!(svg.contains("<polyline"));
    }

    #[test]
    fn a_single_point_on_a_linear_axis_still_draws() {
        let fig = figure("fanout", &[("p50", 1000.0, 3.0)]);
        let svg = svg(&lookup("fanout"), &fig, "caption").unwrap();
        assert!(svg.contains("p50") && svg.contains("delivery latency (ms)"));
    }
}
