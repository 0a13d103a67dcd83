//! A hand-written SVG: the send-to-receive latency CDF of each target in `pairs.json`.

use std::path::Path;

use anyhow::Result;

pub fn latency_cdf(input: &Path, output: &Path) -> Result<()> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(input)?)?;
    let cdf = v["cdf"].as_object().cloned().unwrap_or_default();
    let (w, h, left, bottom, top, right) = (720.0, 420.0, 70.0, 50.0, 40.0, 180.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    // x: log10 of latency in ms from 0.01 ms to 10 s; y: quantile on a "nines" scale.
    let (xmin, xmax) = (-2.0f64, 4.0f64);
    let x = |ms: f64| left + (ms.max(0.01).log10() - xmin) / (xmax - xmin) * pw;
    let nines = |q: f64| -(1.0 - q).max(1e-4).log10(); // 0 .. 4
    let y = |q: f64| top + ph - nines(q) / 4.0 * ph;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" font-size=\"15\">Send-to-receive latency, pairs scenario</text>\n",
        left
    );
    for e in xmin as i32..=xmax as i32 {
        let xx = x(10f64.powi(e));
        let label = if e < 0 { format!("{}", 10f64.powi(e)) } else { format!("{}", 10i64.pow(e as u32)) };
        svg += &format!("<line x1=\"{xx}\" y1=\"{top}\" x2=\"{xx}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{xx}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n", top + ph, top + ph + 16.0);
    }
    for (q, label) in [(0.0, "0"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"), (0.9999, "p99.99")] {
        let yy = y(q);
        svg += &format!("<line x1=\"{left}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\n", left + pw, left - 6.0, yy + 4.0);
    }
    svg += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">latency (ms, log scale)</text>\n", left + pw / 2.0, h - 10.0);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];
    for (i, (name, points)) in cdf.iter().enumerate() {
        let color = colors[i % colors.len()];
        let pts: Vec<String> = points
            .as_array()
            .map(|a| a.iter().filter_map(|p| Some(format!("{:.1},{:.1}", x(p[0].as_f64()?), y(p[1].as_f64()?.min(0.9999))))).collect())
            .unwrap_or_default();
        svg += &format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", pts.join(" "));
        let ly = top + 20.0 + i as f64 * 20.0;
        svg += &format!("<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{name}</text>\n", left + pw + 10.0, left + pw + 30.0, left + pw + 36.0, ly + 4.0);
    }
    svg += "</svg>\n";
    if let Some(dir) = output.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(output, svg)?;
    eprintln!("wrote {}", output.display());
    Ok(())
}
