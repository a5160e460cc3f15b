//! The PNG picture of a spectrogram: viridis cells on labelled time (s) and frequency (Hz)
//! axes, with a colour bar that names the value scale.
//!
//! Drawn with plotters into an RGB buffer (`BitMapBackend::with_buffer`) and saved with
//! [`viz::save_rgb_png`]. Each time-frequency cell is one filled rectangle in chart coordinates:
//! x in seconds on the container clock, y in output rows (mel bands or bins), with tick labels
//! converted to the row's centre frequency in Hz.

use std::path::Path;

use anyhow::anyhow;
use plotters::prelude::*;

use pretext::viz;

/// What the axes say.
pub struct PlotAxes {
    /// Caption above the chart.
    pub title: String,
    /// Window start, seconds.
    pub start: f64,
    /// Window length, seconds.
    pub duration: f64,
    /// Centre time of every frame, seconds.
    pub frame_centres: Vec<f64>,
    /// Width drawn for each frame (the hop), seconds.
    pub frame_span: f64,
    /// Centre frequency of every row, Hz.
    pub row_hz: Vec<f64>,
    /// Whether rows are mel bands (non-uniform in Hz).
    pub mel: bool,
    /// Name of the values (`dB`, `ln(x + 0.01)`, ...).
    pub value_label: String,
}

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 560;
const BAR_WIDTH: u32 = 130;

/// Draws `data` (`[n_freq, n_frames]` row-major) to `path` as a PNG.
pub fn render(
    path: &Path,
    data: &[f32],
    n_freq: usize,
    n_frames: usize,
    axes: &PlotAxes,
) -> anyhow::Result<()> {
    viz::ensure_font();
    let finite = data.iter().filter(|v| v.is_finite()).copied();
    let (lo, hi) = finite.fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) =
        if lo < hi { (lo as f64, hi as f64) } else { (lo as f64 - 1.0, lo as f64 + 1.0) };
    let cmap = viz::viridis();
    let colour = |v: f64| {
        let [r, g, b] = cmap.rgb(((v - lo) / (hi - lo)) as f32);
        RGBColor(r, g, b)
    };
    let err = |e: &dyn std::fmt::Display| anyhow!("plotting: {e}");
    let mut buf = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (main, bar) = root.split_horizontally(WIDTH - BAR_WIDTH);

        let row_hz = &axes.row_hz;
        let y_fmt = |y: &f64| {
            let i = (y.floor().max(0.0) as usize).min(row_hz.len().saturating_sub(1));
            row_hz.get(i).map_or_else(String::new, |hz| format!("{hz:.0}"))
        };
        let mut chart = ChartBuilder::on(&main)
            .caption(&axes.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(axes.start..axes.start + axes.duration, 0.0..n_freq as f64)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("time (s)")
            .y_desc(if axes.mel { "frequency (Hz, mel bands)" } else { "frequency (Hz)" })
            .y_label_formatter(&y_fmt)
            .x_labels(10)
            .y_labels(9)
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(|e| err(&e))?;
        let half = axes.frame_span / 2.0;
        let (t_min, t_max) = (axes.start, axes.start + axes.duration);
        chart
            .draw_series((0..n_freq).flat_map(|f| {
                (0..n_frames).map(move |t| {
                    let c = axes.frame_centres[t];
                    let x0 = (c - half).clamp(t_min, t_max);
                    let x1 = (c + half).clamp(t_min, t_max);
                    let v = f64::from(data[f * n_frames + t]);
                    Rectangle::new([(x0, f as f64), (x1, f as f64 + 1.0)], colour(v).filled())
                })
            }))
            .map_err(|e| err(&e))?;

        let mut bar_chart = ChartBuilder::on(&bar)
            .margin_top(44)
            .margin_bottom(57)
            .margin_right(12)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(|e| err(&e))?;
        bar_chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_desc(axes.value_label.as_str())
            .y_labels(8)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(&e))?;
        let steps = 256;
        bar_chart
            .draw_series((0..steps).map(|i| {
                let a = lo + (hi - lo) * i as f64 / steps as f64;
                let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
                Rectangle::new([(0.0, a), (1.0, b)], colour((a + b) / 2.0).filled())
            }))
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    viz::save_rgb_png(path, WIDTH, HEIGHT, &buf)?;
    Ok(())
}
