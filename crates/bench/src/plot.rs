//! PNG plots drawn with `plotters` from `pairs.json`: the send-to-receive latency CDF of each
//! target, and delivered throughput against offered load; from `search.json`, the query
//! latency CDF of each search engine. Text uses a system TrueType font
//! (DejaVu or Liberation Sans; Debian's `fonts-dejavu-core`).

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;
use serde_json::Value;

const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *DONE.get_or_init(|| false) {
        return Ok(());
    }
    let path = FONTS
        .iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| anyhow!("no TrueType font found (apt-get install fonts-dejavu-core); looked at {FONTS:?}"))?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| anyhow!("{path} is not a usable font"))?;
    let _ = DONE.set(true);
    Ok(())
}

const COLORS: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];

fn label(name: &str) -> String {
    match name {
        "relay" => "bare relay".into(),
        "heliograph" => "Heliograph".into(),
        "heliograph_half_load" => "Heliograph at half its peak".into(),
        "prosody" => "Prosody".into(),
        "ejabberd" => "ejabberd".into(),
        "synapse" => "Synapse".into(),
        "embedded" => "embedded engine (tantivy)".into(),
        "postgres" => "PostgreSQL full-text search".into(),
        other => other.into(),
    }
}

fn load(input: &Path) -> Result<Value> {
    serde_json::from_str(&std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?)
        .with_context(|| format!("parsing {}", input.display()))
}

/// Latency CDF of each series in the result's `cdf`: x = latency (ms, log), y = quantile on
/// a "nines" scale.
pub fn latency_cdf(input: &Path, output: &Path, caption: &str) -> Result<()> {
    register_font()?;
    let v = load(input)?;
    let cdf = v["cdf"].as_object().cloned().unwrap_or_default();
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let nines = |q: f64| -(1.0 - q.min(0.9999)).max(1e-4).log10();
    let root = BitMapBackend::new(output, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((0.01f64..10_000f64).log_scale(), 0f64..4f64)?;
    chart
        .configure_mesh()
        .x_desc("latency, ms (log scale)")
        .y_desc("quantile")
        .y_labels(5)
        .y_label_formatter(&|y| match y.round() as i32 {
            0 => "0".into(),
            1 => "p90".into(),
            2 => "p99".into(),
            3 => "p99.9".into(),
            _ => "p99.99".into(),
        })
        .x_label_formatter(&|x| if *x < 1.0 { format!("{x}") } else { format!("{x:.0}") })
        .label_style(("sans-serif", 14))
        .draw()?;
    for (i, (name, points)) in cdf.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<(f64, f64)> =
            points.as_array().into_iter().flatten().filter_map(|p| Some((p[0].as_f64()?.max(0.01), nines(p[1].as_f64()?)))).collect();
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))?
            .label(label(name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    eprintln!("wrote {}", output.display());
    Ok(())
}

/// Delivered messages/s against offered messages/s (log-log), one line per target from its
/// fixed-rate runs up to its closed-loop peak (drawn at x = its delivered rate, as a square).
pub fn throughput(input: &Path, output: &Path) -> Result<()> {
    register_font()?;
    let v = load(input)?;
    let curve = v["curve"].as_object().cloned().unwrap_or_default();
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    let (mut lo, mut hi) = (f64::MAX, 1f64);
    for (name, points) in &curve {
        let mut pts: Vec<(f64, f64)> = points
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let delivered = p["delivered"].as_f64()?;
                Some((p["offered"].as_f64().unwrap_or(delivered).max(1.0), delivered.max(1.0)))
            })
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        for &(x, y) in &pts {
            lo = lo.min(x).min(y);
            hi = hi.max(x).max(y);
        }
        series.push((name.clone(), pts));
    }
    if series.is_empty() {
        lo = 1.0;
    }
    let (lo, hi) = (10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil()));
    let root = BitMapBackend::new(output, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Delivered vs. offered load, pairs scenario", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((lo..hi).log_scale(), (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("offered msg/s (log; the last point of each line is its closed-loop peak)")
        .y_desc("delivered msg/s (log)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 14))
        .draw()?;
    chart.draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.25)))?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(label(name))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        if let Some(&last) = pts.last() {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(last.0 / 1.08, last.1 / 1.08), (last.0 * 1.08, last.1 * 1.08)],
                color.stroke_width(2),
            )))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    eprintln!("wrote {}", output.display());
    Ok(())
}
