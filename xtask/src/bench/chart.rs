//! `docs/img/benchmarks.png`: one horizontal bar per request scenario, its throughput as a ratio
//! to the same run's ceiling, drawn with plotters. Text needs a font file: Debian's DejaVu Sans,
//! read at run time rather than vendored.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::report::{Report, Unit, ratio_text, thousands};

/// Where Debian's fonts-dejavu-core puts the font.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const WIDTH: u32 = 1000;
const ROW_HEIGHT: u32 = 26;
const LABEL_WIDTH: i32 = 230;
const TOP: i32 = 60;

/// Loads the font once, under the name the drawing uses.
fn register_font() -> Result<(), String> {
    static LOADED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let bytes = std::fs::read(FONT).map_err(|e| {
                format!(
                    "the chart needs the font {FONT} ({e}); install it with \
                     `apt-get install fonts-dejavu-core`, or run with --no-write"
                )
            })?;
            // plotters keeps fonts for the life of the process, so this one lives as long.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{FONT} is not a font plotters can read"))
        })
        .clone()
}

/// The bars: a label, the ratio, and the text shown after the bar.
pub fn bars(report: &Report) -> Vec<(String, f64, String)> {
    let several = report.runs.len() > 1;
    let mut bars = Vec::new();
    for run in &report.runs {
        for row in run.rows.iter().filter(|r| r.unit == Unit::Requests) {
            let Some(ratio) = row.ratio else { continue };
            let label =
                if several { format!("{} {}", run.label(), row.name) } else { row.name.clone() };
            let text = format!("{}  ({} req/s)", ratio_text(ratio), thousands(row.throughput));
            bars.push((label, ratio, text));
        }
    }
    bars
}

pub fn draw(report: &Report, path: &Path) -> Result<(), String> {
    register_font()?;
    let bars = bars(report);
    let height = TOP as u32 + ROW_HEIGHT * bars.len() as u32 + 50;
    let root = BitMapBackend::new(path, (WIDTH, height)).into_drawing_area();
    let failed = |e: DrawingAreaErrorKind<_>| format!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(failed)?;
    let title = format!(
        "Throughput as a ratio of GET /health (ceiling), {} cores, {}{}",
        report.cores,
        report.date,
        if report.quick { ", quick run" } else { "" }
    );
    root.draw(&Text::new(title, (20, 18), ("sans-serif", 20).into_font())).map_err(failed)?;
    let most = bars.iter().map(|b| b.1).fold(1.0_f64, f64::max) * 1.25;
    let plot_width = (WIDTH as i32 - LABEL_WIDTH - 30) as f64;
    let x = |ratio: f64| LABEL_WIDTH + (ratio / most * plot_width) as i32;
    let bottom = TOP + (ROW_HEIGHT * bars.len() as u32) as i32;
    let small = ("sans-serif", 14).into_font();
    // Grid lines every 0.25.
    let mut tick = 0.0;
    while tick <= most {
        let grey = RGBColor(210, 210, 210);
        root.draw(&PathElement::new(vec![(x(tick), TOP - 5), (x(tick), bottom)], grey))
            .map_err(failed)?;
        root.draw(&Text::new(format!("{tick:.2}"), (x(tick) - 12, bottom + 8), small.clone()))
            .map_err(failed)?;
        tick += 0.25;
    }
    for (i, (label, ratio, text)) in bars.iter().enumerate() {
        let top = TOP + (ROW_HEIGHT as i32) * i as i32;
        let label_style = ("sans-serif", 15).into_font();
        root.draw(&Text::new(label.clone(), (10, top + 4), label_style)).map_err(failed)?;
        let colour = if label.ends_with("ceiling") { RGBColor(90, 90, 90) } else { BLUE };
        let bar = Rectangle::new(
            [(x(0.0), top + 3), (x(*ratio).max(x(0.0) + 1), top + 21)],
            colour.filled(),
        );
        root.draw(&bar).map_err(failed)?;
        root.draw(&Text::new(text.clone(), (x(*ratio) + 6, top + 5), small.clone()))
            .map_err(failed)?;
    }
    root.present().map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::report::{Row, Run};
    use super::*;

    #[test]
    fn one_bar_per_request_scenario_with_a_ratio() {
        let row = |name: &str, unit, throughput| {
            Row::throughput_only(name, unit, throughput, String::new())
        };
        let mut run = Run::new("sqlite");
        run.rows = vec![
            row("ceiling", Unit::Requests, 1000.0),
            row("get_movie", Unit::Requests, 250.0),
            row("bulk", Unit::Rows, 9000.0),
        ];
        run.fill_ratios();
        let report = Report {
            date: "2026-11-26".into(),
            commit: "abc".into(),
            cores: 2,
            quick: true,
            seconds_per_scenario: 2,
            concurrency: 64,
            wall_seconds: 1.0,
            runs: vec![run],
        };
        let bars = bars(&report);
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[1].0, "get_movie");
        assert_eq!(bars[1].1, 0.25);
        assert!(bars[1].2.starts_with("0.25  (250 req/s)"), "{}", bars[1].2);
    }
}
