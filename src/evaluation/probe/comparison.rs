//! The comparison of several probe reports (`pretext eval compare`): one table and one plot, the
//! picture the seed lecture draws — held-out linear-probe accuracy against layer depth, a line per
//! run and modality (random init and supervised are runs like any other).
//!
//! For each run and modality the table gives the best layer (chosen by probe top-1 on the val
//! split, so the test figure is not the maximum of several noisy ones), its probe accuracy on
//! val and test, the best kNN accuracy, the last stage's and the embedding's probe accuracy (does accuracy fall at the
//! last layers?), the best within-modal nDCG@30, and cross-modal nDCG@30 where there is one.
//! Any number of reports, of any task, in any order; the rows keep the order given.

use std::path::Path;

use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::{LayerReport, ProbeReport};
use crate::evaluation::{EvaluationError, Result};

/// One run and modality in the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// The run's name.
    pub run: String,
    /// `vision` or `audio`.
    pub modality: String,
    /// Best layer by probe val top-1 (test where there is no val split).
    pub best_layer: String,
    /// Its depth.
    pub best_depth: usize,
    /// Probe val top-1 there.
    pub best_probe_val: f64,
    /// Probe test top-1 there.
    pub best_probe: f64,
    /// kNN test top-1 at the best kNN layer.
    pub best_knn: f64,
    /// The best kNN layer.
    pub best_knn_layer: String,
    /// Probe test top-1 of the last stage (before the embedding).
    pub last_stage_probe: f64,
    /// Probe test top-1 of the embedding.
    pub embedding_probe: Option<f64>,
    /// Best within-modal nDCG@30 over the layers.
    pub best_ndcg30: f64,
    /// Cross-modal nDCG@30 from this modality's embedding (image→audio or audio→image).
    pub cross_ndcg30: Option<f64>,
    /// Probe test top-1 per depth (1-based), the embedding last.
    pub curve: Vec<(usize, String, f64)>,
}

fn top1(l: &LayerReport, probe: bool, split: &str) -> f64 {
    let v = if probe { &l.probe } else { &l.knn };
    v.iter().find(|(s, _)| s == split).or(v.last()).map_or(f64::NAN, |(_, a)| a.top1)
}

fn test_top1(l: &LayerReport, probe: bool) -> f64 {
    top1(l, probe, "test")
}

/// The comparison rows of `reports`.
pub fn comparison_rows(reports: &[ProbeReport]) -> Vec<ComparisonRow> {
    let mut rows = Vec::new();
    for r in reports {
        for modality in ["vision", "audio"] {
            let ls: Vec<&LayerReport> =
                r.layers.iter().filter(|l| l.modality == modality).collect();
            if ls.is_empty() {
                continue;
            }
            // The first of equals: ties go to the shallower layer.
            let best = |probe: bool| {
                ls.iter().copied().fold(ls[0], |m, l| {
                    if top1(l, probe, "val") > top1(m, probe, "val") {
                        l
                    } else {
                        m
                    }
                })
            };
            let (bp, bk) = (best(true), best(false));
            let stages: Vec<&&LayerReport> =
                ls.iter().filter(|l| !l.layer.name.ends_with(".emb")).collect();
            let emb = ls.iter().find(|l| l.layer.name.ends_with(".emb"));
            let cross_name = if modality == "vision" { "image→audio" } else { "audio→image" };
            rows.push(ComparisonRow {
                run: r.name.clone(),
                modality: modality.into(),
                best_layer: bp.layer.name.clone(),
                best_depth: bp.layer.depth,
                best_probe_val: top1(bp, true, "val"),
                best_probe: test_top1(bp, true),
                best_knn: test_top1(bk, false),
                best_knn_layer: bk.layer.name.clone(),
                last_stage_probe: stages.last().map_or(f64::NAN, |l| test_top1(l, true)),
                embedding_probe: emb.map(|l| test_top1(l, true)),
                best_ndcg30: ls.iter().map(|l| l.retrieval.ndcg30).fold(f64::NAN, f64::max),
                cross_ndcg30: r
                    .cross_modal
                    .iter()
                    .find(|(n, _)| n == cross_name)
                    .map(|(_, s)| s.ndcg30),
                curve: ls
                    .iter()
                    .map(|l| (l.layer.depth, l.layer.name.clone(), test_top1(l, true)))
                    .collect(),
            });
        }
    }
    rows
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}", 100.0 * v)
    } else {
        "–".into()
    }
}

/// The comparison as Markdown: the summary table, then probe test top-1 per layer.
pub fn comparison_markdown(reports: &[ProbeReport], rows: &[ComparisonRow]) -> String {
    let mut s = String::new();
    if let Some(r) = reports.first() {
        s.push_str(&format!(
            "Labels {} ({} classes, chance {:.1} %); linear probes and kNN fitted on train, top-1 \
             on val and test (%), the best layer chosen on val; retrieval on test.\n\n",
            r.labels,
            r.classes.len(),
            100.0 / r.classes.len().max(1) as f64
        ));
    }
    s.push_str(
        "| run | modality | best layer (val) | probe val | probe test | last stage (test) | emb (test) | kNN test (best, layer) | nDCG@30 (best) | cross-modal nDCG@30 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {} |\n",
            r.run,
            r.modality,
            r.best_layer,
            pct(r.best_probe_val),
            pct(r.best_probe),
            pct(r.last_stage_probe),
            r.embedding_probe.map_or("–".into(), pct),
            pct(r.best_knn),
            r.best_knn_layer,
            pct(r.best_ndcg30),
            r.cross_ndcg30.map_or("–".into(), pct),
        ));
    }
    let depth = rows.iter().flat_map(|r| r.curve.iter().map(|c| c.0)).max().unwrap_or(0);
    s.push_str("\nProbe test top-1 (%) by depth (the last column of each run is its embedding):\n\n| run | modality |");
    for d in 1..=depth {
        s.push_str(&format!(" {d} |"));
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|".repeat(depth));
    s.push('\n');
    for r in rows {
        s.push_str(&format!("| {} | {} |", r.run, r.modality));
        for d in 1..=depth {
            let c = r.curve.iter().find(|c| c.0 == d);
            s.push_str(&format!(
                " {} |",
                c.map_or(String::new(), |c| format!(
                    "{} ({})",
                    pct(c.2),
                    c.1.split('.').nth(1).unwrap_or("")
                ))
            ));
        }
        s.push('\n');
    }
    s
}

/// Draws probe test top-1 against depth, one line per run and modality (vision solid, audio
/// with circles), into `png`.
pub fn plot_comparison(rows: &[ComparisonRow], png: &Path) -> Result<()> {
    crate::viz::ensure_font();
    let (w, h) = (1000u32, 600u32);
    let mut buf = vec![255u8; (w * h * 3) as usize];
    let perr = |e: String| EvaluationError::Other(format!("{}: plot: {e}", png.display()));
    let depth = rows.iter().flat_map(|r| r.curve.iter().map(|c| c.0)).max().unwrap_or(1).max(2);
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| perr(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption("linear probe accuracy (test) against layer depth", ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.8f64..depth as f64 + 0.2, 0.0f64..1.0)
            .map_err(|e| perr(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("depth (stage; the last point of each line is the embedding)")
            .y_desc("top-1")
            .x_labels(depth)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| perr(e.to_string()))?;
        for (i, r) in rows.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> =
                r.curve.iter().filter(|c| c.2.is_finite()).map(|c| (c.0 as f64, c.2)).collect();
            let style = color.stroke_width(if r.run.starts_with("random") { 3 } else { 2 });
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(|e| perr(e.to_string()))?
                .label(format!("{} ({})", r.run, r.modality))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
            if r.modality == "audio" {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(|e| perr(e.to_string()))?;
            } else {
                chart
                    .draw_series(pts.iter().map(|&p| Cross::new(p, 4, color.stroke_width(2))))
                    .map_err(|e| perr(e.to_string()))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(|e| perr(e.to_string()))?;
        root.present().map_err(|e| perr(e.to_string()))?;
    }
    crate::viz::save_rgb_png(png, w, h, &buf)?;
    Ok(())
}
