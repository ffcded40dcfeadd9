//! The two SVG charts, drawn with plotters.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::ns;
use crate::results::{Estimate, contender_rank};
use crate::{LATENCY_GROUPS, Result, THROUGHPUT_GROUPS};

const TOLLGATE_COLOR: RGBColor = RGBColor(31, 119, 180);
const RIVAL_COLOR: RGBColor = RGBColor(255, 127, 14);
const LABEL_AREA: u32 = 360;

/// Horizontal bars: one row per contender of each uncontended workload, with the 95% CI whisker.
pub fn draw_latency(path: &Path, results: &[Estimate]) -> Result<()> {
    let rows: Vec<&Estimate> = LATENCY_GROUPS
        .iter()
        .flat_map(|&group| results.iter().filter(move |e| e.group == group && e.parameter == "1"))
        .collect();
    let height = 110 + 22 * rows.len().max(1) as u32;
    let area = SVGBackend::new(path, (1100, height)).into_drawing_area();
    area.fill(&WHITE)?;
    let max = rows.iter().map(|e| e.upper_ns).fold(1.0, f64::max) * 1.15;
    let top = rows.len() as f64 - 0.5;
    let mut chart = ChartBuilder::on(&area)
        .caption("Time per operation, one thread (lower is better; blue: tollgate, orange: rivals)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(0.0..max, -0.5..top)?;
    chart
        .configure_mesh()
        .y_labels(0)
        .disable_y_mesh()
        .x_desc("ns per operation (criterion mean; whisker: 95% confidence interval)")
        .draw()?;

    // Row i is drawn at y = rows - 1 - i, so the first row is at the top.
    let y_of = |index: usize| (rows.len() - 1 - index) as f64;
    chart.draw_series(rows.iter().enumerate().map(|(index, e)| {
        let color = if e.is_tollgate() { TOLLGATE_COLOR } else { RIVAL_COLOR };
        Rectangle::new([(0.0, y_of(index) - 0.35), (e.mean_ns, y_of(index) + 0.35)], color.filled())
    }))?;
    chart.draw_series(rows.iter().enumerate().map(|(index, e)| {
        PathElement::new(vec![(e.lower_ns, y_of(index)), (e.upper_ns, y_of(index))], BLACK.stroke_width(1))
    }))?;
    let value_style = ("sans-serif", 12).into_font().color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    chart.draw_series(rows.iter().enumerate().map(|(index, e)| {
        EmptyElement::at((e.upper_ns, y_of(index))) + Text::new(ns(e.mean_ns), (6, 0), value_style.clone())
    }))?;

    // Row labels in the label area, right-aligned against the axis; a rule between workloads.
    let label_style = ("sans-serif", 13).into_font().color(&BLACK).pos(Pos::new(HPos::Right, VPos::Center));
    for (index, e) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, y_of(index)));
        area.draw(&Text::new(format!("{} · {}", e.group, e.contender), (x - 8, y), label_style.clone()))?;
        if index > 0 && rows[index - 1].group != e.group {
            let boundary = y_of(index) + 0.5;
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, boundary), (max, boundary)],
                RGBColor(170, 170, 170).stroke_width(1),
            )))?;
        }
    }
    area.present()?;
    Ok(())
}

/// One panel per workload: total operations per second (all threads) against thread count, one
/// line per contender; tollgate's solid, the rivals' dashed.
pub fn draw_throughput(path: &Path, results: &[Estimate]) -> Result<()> {
    let area = SVGBackend::new(path, (1400, 1000)).into_drawing_area();
    area.fill(&WHITE)?;
    let (title, body) = area.split_vertically(40);
    title.draw(&Text::new(
        "Total operations per second by thread count (higher is better; the machine has 2 cores)",
        (20, 12),
        ("sans-serif", 20).into_font().color(&BLACK),
    ))?;
    for (panel, &group) in body.split_evenly((2, 2)).iter().zip(THROUGHPUT_GROUPS.iter()) {
        draw_throughput_panel(panel, results, group)?;
    }
    area.present()?;
    Ok(())
}

fn draw_throughput_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, plotters::coord::Shift>,
    results: &[Estimate],
    group: &str,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    // contender → [(log2 threads, Mops/s)]
    let mut lines: BTreeMap<(usize, String), Vec<(f64, f64)>> = BTreeMap::new();
    for e in results.iter().filter(|e| e.group == group) {
        let Some(threads) = e.threads() else { continue };
        let point = (f64::from(threads).log2(), e.total_ops_per_sec() / 1e6);
        lines.entry(contender_rank(&e.contender)).or_default().push(point);
    }
    // A log scale: the no-op limiter runs ten times faster than the others.
    let values = || lines.values().flatten().map(|&(_, mops)| mops);
    let max = values().fold(f64::MIN_POSITIVE, f64::max) * 1.5;
    let min = values().fold(max, f64::min) / 1.5;
    let mut chart = ChartBuilder::on(panel)
        .caption(group, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(-0.1..3.1, (min..max).log_scale().with_key_points(log_ticks(min, max)))?;
    chart
        .configure_mesh()
        .x_labels(4)
        .x_label_formatter(&|x: &f64| format!("{}", 2f64.powf(x.round()) as u32))
        .x_desc("threads")
        .y_desc("million operations per second, all threads (log scale)")
        .y_label_formatter(&|mops: &f64| if *mops >= 10.0 { format!("{mops:.0}") } else { format!("{mops:.1}") })
        .draw()?;
    for (index, ((_, contender), points)) in lines.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let style = color.stroke_width(2);
        if contender.starts_with("tollgate_") {
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?
        } else {
            chart.draw_series(DashedLineSeries::new(points.iter().copied(), 8, 5, style))?
        }
        .label(contender.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.iter().map(|&point| Circle::new(point, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

/// Tick values for a log axis over `min..max`: 1, 1.5, 2, 3, 5 and 7 times each power of ten, so
/// that even a range within one decade gets several labels.
fn log_ticks(min: f64, max: f64) -> Vec<f64> {
    let decades = min.log10().floor() as i32..=max.log10().ceil() as i32;
    decades
        .flat_map(|decade| [1.0, 1.5, 2.0, 3.0, 5.0, 7.0].map(|mantissa| mantissa * 10f64.powi(decade)))
        .filter(|tick| (min..=max).contains(tick))
        .collect()
}
