//! `RUN/metrics.jsonl` (one JSON object per line: `{"phase": "train"|"val", "step": .., ...}`)
//! and the PNG of loss and accuracy curves drawn from it with plotters.
//!
//! The log is append-only; a resumed run appends after the lines of the steps it redoes, and the
//! plot keeps the last value logged for each (phase, step), so curves stay single-valued.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::TrainingError;

/// An append-only JSON Lines log.
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<Self, TrainingError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TrainingError::file(path, e))?;
        Ok(MetricsLog { path: path.to_path_buf(), file })
    }

    /// Appends one record and flushes it.
    pub fn write(&mut self, record: &serde_json::Value) -> Result<(), TrainingError> {
        let mut line = record.to_string();
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(|e| TrainingError::file(&self.path, e))
    }
}

/// Reads `(phase, key) -> [(step, value)]` from a metrics log, last write wins per step.
pub fn read_series(path: &Path, key: &str, phase: &str) -> Result<Vec<(f64, f64)>, TrainingError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainingError::file(path, e))?;
    let mut by_step: BTreeMap<u64, f64> = BTreeMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if v.get("phase").and_then(|p| p.as_str()) != Some(phase) {
            continue;
        }
        if let (Some(step), Some(val)) =
            (v.get("step").and_then(|s| s.as_u64()), v.get(key).and_then(|x| x.as_f64()))
        {
            by_step.insert(step, val);
        }
    }
    Ok(by_step.into_iter().map(|(s, v)| (s as f64, v)).collect())
}

/// Draws loss (train, val) and accuracy (train, val `metric`) against step into `png`.
pub fn plot_curves(metrics: &Path, png: &Path, metric: &str) -> Result<(), TrainingError> {
    let series = [
        (0, "train loss", read_series(metrics, "loss", "train")?, BLUE),
        (0, "val loss", read_series(metrics, "loss", "val")?, RED),
        (1, "train accuracy", read_series(metrics, "accuracy", "train")?, BLUE),
        (1, &*format!("val {metric}"), read_series(metrics, metric, "val")?, RED),
    ];
    crate::viz::ensure_font();
    let (w, h) = (1200u32, 450u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let perr = |e: String| TrainingError::Plot { path: png.to_path_buf(), reason: e };
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(e.to_string()))?;
        let panels = root.split_evenly((1, 2));
        for (pi, panel) in panels.iter().enumerate() {
            let mine: Vec<_> = series.iter().filter(|s| s.0 == pi).collect();
            let max_x = mine.iter().flat_map(|s| s.2.iter().map(|p| p.0)).fold(1.0, f64::max);
            let (lo, hi) = if pi == 1 {
                (0.0, 1.0)
            } else {
                let ys =
                    mine.iter().flat_map(|s| s.2.iter().map(|p| p.1)).filter(|y| y.is_finite());
                let hi = ys.fold(0.0f64, f64::max).max(1e-3) * 1.05;
                (0.0, hi)
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(if pi == 0 { "loss" } else { "accuracy" }, ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(52)
                .build_cartesian_2d(0.0..max_x, lo..hi)
                .map_err(|e| perr(e.to_string()))?;
            chart
                .configure_mesh()
                .x_desc("step")
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| perr(e.to_string()))?;
            for (_, name, points, color) in mine {
                let color = *color;
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
                    .map_err(|e| perr(e.to_string()))?
                    .label(name.to_string())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| perr(e.to_string()))?;
        }
        root.present().map_err(|e| perr(e.to_string()))?;
    }
    crate::viz::save_rgb_png(png, w, h, &buf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_write_wins_and_plot_renders() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&m).unwrap();
        for (step, loss) in [(1, 0.9), (2, 0.8), (2, 0.7), (3, 0.5)] {
            log.write(
                &serde_json::json!({"phase": "train", "step": step, "loss": loss, "accuracy": 0.5}),
            )
            .unwrap();
        }
        log.write(&serde_json::json!({"phase": "val", "step": 3, "loss": 0.6, "accuracy": 0.7}))
            .unwrap();
        let s = read_series(&m, "loss", "train").unwrap();
        assert_eq!(s, vec![(1.0, 0.9), (2.0, 0.7), (3.0, 0.5)]);
        let png = dir.path().join("curves.png");
        plot_curves(&m, &png, "accuracy").unwrap();
        let img = image::open(&png).unwrap();
        assert_eq!((img.width(), img.height()), (1200, 450));
    }
}
