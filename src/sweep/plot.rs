//! Figures for `lpipe report --plot`: every run's loss curves on one chart, and each final metric
//! against each swept value (one line per value of the other swept keys). Each figure is written
//! as SVG (for papers) and PNG (for quick looks), both atomically.
//!
//! The legend sits in its own column right of the plot, so it never hides a curve however many
//! runs a sweep has.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::error::SweepError;
use super::font::{self, FAMILY};
use super::runs::Curve;
use crate::io::write_atomic;

/// Figure size in pixels (PNG) and user units (SVG).
const SIZE: (u32, u32) = (1280, 760);
/// Width of the legend column.
const LEGEND_W: u32 = 260;
/// Legend rows that fit; further series are summarised as "… and N more".
const LEGEND_ROWS: usize = 26;

/// Tableau 10: distinct under the common colour-vision deficiencies and in greyscale print.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One named line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points drawn as a line, in x order.
    pub line: Vec<(f64, f64)>,
    /// Points drawn as dots in the same colour (validation losses; the line's own points).
    pub dots: Vec<(f64, f64)>,
}

/// What a chart shows, apart from its series.
#[derive(Clone, Debug)]
struct Frame<'a> {
    title: &'a str,
    x_desc: &'a str,
    y_desc: &'a str,
    legend_title: &'a str,
    legend_note: Option<&'a str>,
    log2_x: bool,
    /// Start the x axis at 0 (steps), not at the smallest value (swept settings).
    x_from_zero: bool,
    /// Label only these x values (a few swept settings: `4` and `8`, not `4.5`).
    x_ticks: Option<Vec<f64>>,
}

/// Series `i`'s colour and dash: colours cycle, and each further cycle of ten uses a longer dash.
fn style(i: usize) -> (RGBColor, u32) {
    (PALETTE[i % PALETTE.len()], (i / PALETTE.len()) as u32 * 6)
}

/// All runs' loss curves on one chart: training loss as lines, validation loss as dots.
/// Writes `<out_stem>.svg` and `<out_stem>.png` and returns both paths.
pub fn plot_losses(
    runs: &[(String, Curve, Curve)],
    out_stem: &Path,
) -> Result<Vec<PathBuf>, SweepError> {
    let series: Vec<Series> = runs
        .iter()
        .filter(|(_, train, val)| !train.is_empty() || !val.is_empty())
        .map(|(name, train, val)| Series {
            name: name.clone(),
            line: train.clone(),
            dots: val.clone(),
        })
        .collect();
    if series.is_empty() {
        return Err(SweepError::Empty {
            what: "plot",
            message: "no run has a loss in its metrics.jsonl".into(),
        });
    }
    let has_val = series.iter().any(|s| !s.dots.is_empty());
    let frame = Frame {
        title: if has_val {
            "Training and validation loss"
        } else {
            "Training loss"
        },
        x_desc: "step",
        y_desc: "loss",
        legend_title: "run",
        legend_note: has_val.then_some("lines: training, dots: validation"),
        log2_x: false,
        x_ticks: None,
        x_from_zero: true,
    };
    render(&series, &frame, out_stem)
}

/// A final metric against one swept value, one line per `series_by` group.
/// `points` are (group, x, metric); writes `<out_stem>.svg` and `.png`. Powers-of-two x values
/// spanning 8× or more (LoRA ranks) are spaced evenly on a log₂ axis.
pub fn plot_metric_vs_param(
    points: &[(String, f64, f64)],
    x_name: &str,
    metric_name: &str,
    series_by: &str,
    out_stem: &Path,
) -> Result<Vec<PathBuf>, SweepError> {
    let mut groups: Vec<String> = Vec::new();
    for (group, _, _) in points {
        if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    let series: Vec<Series> = groups
        .iter()
        .map(|group| {
            let mut line: Vec<(f64, f64)> = points
                .iter()
                .filter(|(g, x, y)| g == group && x.is_finite() && y.is_finite())
                .map(|&(_, x, y)| (x, y))
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series {
                name: group.clone(),
                dots: line.clone(),
                line,
            }
        })
        .filter(|s| !s.line.is_empty())
        .collect();
    if series.is_empty() {
        return Err(SweepError::Empty {
            what: "plot",
            message: format!("no run has both `{x_name}` and `{metric_name}`"),
        });
    }
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.line.iter().map(|p| p.0))
        .collect();
    let title = format!("{metric_name} vs {x_name}");
    let log2_x = powers_of_two_spread(&xs);
    let mut distinct = xs.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let frame = Frame {
        title: &title,
        x_desc: x_name,
        y_desc: metric_name,
        legend_title: series_by,
        legend_note: None,
        log2_x,
        x_from_zero: false,
        x_ticks: (!log2_x && distinct.len() <= MAX_LABELLED_VALUES).then_some(distinct),
    };
    render(&series, &frame, out_stem)
}

/// Up to this many distinct swept values, only they get x labels.
const MAX_LABELLED_VALUES: usize = 12;

/// The label of tick `v` when only `ticks` are labelled: theirs if `v` is one of them.
fn swept_label(v: f64, ticks: &[f64]) -> String {
    let (lo, hi) = bounds(ticks.iter().copied());
    let tol = (hi - lo).abs().max(v.abs()).max(1e-12) * 1e-6;
    ticks
        .iter()
        .find(|t| (v - **t).abs() <= tol)
        .map(|t| short_number(*t))
        .unwrap_or_default()
}

fn powers_of_two_spread(xs: &[f64]) -> bool {
    let all_pow2 = xs
        .iter()
        .all(|&x| x >= 1.0 && x.log2().fract() == 0.0 && x < 1e15);
    let (lo, hi) = bounds(xs.iter().copied());
    all_pow2 && hi / lo >= 8.0
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// A range around `lo..hi` with a margin, never empty.
fn padded(lo: f64, hi: f64, frac: f64) -> std::ops::Range<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return 0.0..1.0;
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - span * frac)..(hi + span * frac)
}

/// Writes the chart as SVG and PNG next to each other.
fn render(series: &[Series], frame: &Frame, out_stem: &Path) -> Result<Vec<PathBuf>, SweepError> {
    font::ensure()?;
    let svg_path = out_stem.with_extension("svg");
    let png_path = out_stem.with_extension("png");
    let draw_err = |path: &Path| {
        let path = path.to_path_buf();
        move |message: String| SweepError::Draw { path, message }
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(root, series, frame).map_err(draw_err(&svg_path))?;
    }
    write_atomic(&svg_path, svg.as_bytes()).map_err(|e| SweepError::io(&svg_path, e))?;

    // The bitmap backend picks its encoder from the extension, so the temporary keeps `.png`.
    let dir = png_path.parent().unwrap_or(Path::new("."));
    let stem = out_stem
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{stem}.tmp-{}.png", std::process::id()));
    let drawn = draw(
        BitMapBackend::new(&tmp, SIZE).into_drawing_area(),
        series,
        frame,
    );
    if let Err(message) = drawn {
        let _ = std::fs::remove_file(&tmp);
        return Err(draw_err(&png_path)(message));
    }
    std::fs::rename(&tmp, &png_path).map_err(|e| SweepError::io(&png_path, e))?;
    Ok(vec![svg_path, png_path])
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &[Series],
    frame: &Frame,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let root = root
        .margin(14, 0, 0, 0)
        .titled(frame.title, (FAMILY, 30).into_font().color(&BLACK))
        .map_err(e)?;
    let (plot_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_W);

    let map_x = |x: f64| if frame.log2_x { x.log2() } else { x };
    let (x_lo, x_hi) = bounds(
        series
            .iter()
            .flat_map(|s| s.line.iter().chain(&s.dots))
            .map(|p| map_x(p.0)),
    );
    let (y_lo, y_hi) = bounds(
        series
            .iter()
            .flat_map(|s| s.line.iter().chain(&s.dots))
            .map(|p| p.1),
    );
    let x_range = if frame.x_from_zero {
        padded(x_lo.min(0.0), x_hi, 0.02)
    } else {
        padded(x_lo, x_hi, 0.05)
    };
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(10)
        .margin_right(24)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x_range, padded(y_lo, y_hi, 0.06))
        .map_err(e)?;
    let x_label = |v: &f64| {
        if frame.log2_x {
            // Only whole powers of two get a label; plotters may put ticks between them.
            if (v - v.round()).abs() < 1e-6 {
                format!("{}", v.round().exp2())
            } else {
                String::new()
            }
        } else if let Some(ticks) = &frame.x_ticks {
            swept_label(*v, ticks)
        } else {
            short_number(*v)
        }
    };
    let y_label = |v: &f64| short_number(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(frame.x_desc)
        .y_desc(frame.y_desc)
        .label_style((FAMILY, 20))
        .axis_desc_style((FAMILY, 22))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(205, 205, 205))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label);
    if frame.log2_x {
        let (lo, hi) = (x_lo.round() as i64, x_hi.round() as i64);
        mesh.x_labels(usize::try_from(hi - lo + 1).unwrap_or(2).clamp(2, 40));
    }
    mesh.draw().map_err(e)?;

    for (i, s) in series.iter().enumerate() {
        let (color, dash) = style(i);
        let line: Vec<(f64, f64)> = s.line.iter().map(|&(x, y)| (map_x(x), y)).collect();
        if dash == 0 {
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(e)?;
        } else {
            chart
                .draw_series(DashedLineSeries::new(line, dash, 4, color.stroke_width(2)))
                .map_err(e)?;
        }
        chart
            .draw_series(
                s.dots
                    .iter()
                    .map(|&(x, y)| Circle::new((map_x(x), y), 4, color.filled())),
            )
            .map_err(e)?;
    }
    draw_legend(&legend_area, series, frame).map_err(e)?;
    root.present().map_err(e)
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[Series],
    frame: &Frame,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let left = Pos::new(HPos::Left, VPos::Center);
    let text = |size: u32| TextStyle::from((FAMILY, size).into_font()).pos(left);
    let row = 26;
    let mut y = 30;
    area.draw(&Text::new(
        frame.legend_title.to_string(),
        (12, y),
        text(22),
    ))?;
    y += row + 4;
    for (i, s) in series.iter().take(LEGEND_ROWS).enumerate() {
        let (color, dash) = style(i);
        let sample = [(12, y), (52, y)];
        if dash == 0 {
            area.draw(&PathElement::new(sample, color.stroke_width(3)))?;
        } else {
            area.draw(&DashedPathElement::new(
                sample,
                dash,
                4,
                color.stroke_width(3),
            ))?;
        }
        area.draw(&Circle::new((32, y), 4, color.filled()))?;
        area.draw(&Text::new(truncate(&s.name, 22), (60, y), text(18)))?;
        y += row;
    }
    if series.len() > LEGEND_ROWS {
        let more = format!("… and {} more", series.len() - LEGEND_ROWS);
        area.draw(&Text::new(more, (12, y), text(18)))?;
        y += row;
    }
    if let Some(note) = frame.legend_note {
        area.draw(&Text::new(note.to_string(), (12, y + 8), text(15)))?;
    }
    Ok(())
}

fn truncate(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let kept: String = name.chars().take(max - 1).collect();
    format!("{kept}…")
}

/// Tick labels without float noise (`0.30000000000000004` → `0.3`).
fn short_number(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        return format!("{v:.1e}");
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_get_a_log_axis_but_alphas_do_not() {
        assert!(powers_of_two_spread(&[1.0, 2.0, 8.0, 64.0]));
        assert!(!powers_of_two_spread(&[16.0, 32.0]));
        assert!(!powers_of_two_spread(&[1.0, 3.0, 16.0]));
        assert!(!powers_of_two_spread(&[0.5, 4.0, 8.0]));
    }

    #[test]
    fn only_swept_values_are_labelled() {
        let ticks = [4.0, 8.0];
        assert_eq!(swept_label(4.0, &ticks), "4");
        assert_eq!(swept_label(8.000000001, &ticks), "8");
        assert_eq!(swept_label(4.5, &ticks), "");
        let lrs = [1e-4, 3e-4];
        assert_eq!(swept_label(3e-4, &lrs), "3.0e-4");
        assert_eq!(swept_label(2e-4, &lrs), "");
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(short_number(0.30000000000000004), "0.3");
        assert_eq!(short_number(200.0), "200");
        assert_eq!(short_number(-0.0), "0");
        assert_eq!(short_number(2e-5), "2.0e-5");
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn empty_inputs_are_diagnostics_not_panics() {
        let stem = std::env::temp_dir().join("lpipe-plot-empty");
        let err = plot_losses(&[("r8".into(), vec![], vec![])], &stem).unwrap_err();
        assert!(matches!(err, SweepError::Empty { .. }), "{err}");
        let err = plot_metric_vs_param(&[], "lora.r", "mmlu acc", "lora.alpha", &stem).unwrap_err();
        assert!(matches!(err, SweepError::Empty { .. }), "{err}");
    }
}
