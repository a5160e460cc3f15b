//! `pretext eval compare`: several `eval probe` reports in one table (Markdown + JSON) and one
//! plot (probe accuracy against layer depth, a line per run and modality).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pretext::evaluation::probe::{
    comparison_markdown, comparison_rows, plot_comparison, ProbeReport,
};

/// Compare `eval probe` reports (any tasks, random init, supervised).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Reports: report.json files, probe folders holding one, or run folders (their probe,
    /// probe-untrained and probe-supervised folders, those that exist).
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Output folder: compare.md, compare.json, compare.png.
    #[arg(long)]
    pub out: PathBuf,
}

fn reports_of(p: &std::path::Path) -> Vec<PathBuf> {
    if p.is_file() {
        return vec![p.to_path_buf()];
    }
    if p.join("report.json").is_file() {
        return vec![p.join("report.json")];
    }
    ["probe", "probe-untrained", "probe-supervised"]
        .iter()
        .map(|d| p.join(d).join("report.json"))
        .filter(|f| f.is_file())
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    for r in &args.runs {
        let files = reports_of(r);
        anyhow::ensure!(!files.is_empty(), "{}: no probe report.json there", r.display());
        for f in files {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            let rep: ProbeReport = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a probe report", f.display()))?;
            reports.push(rep);
        }
    }
    if let Some(l) = reports.iter().find(|r| r.labels != reports[0].labels) {
        eprintln!(
            "warning: {} used labels {}, {} used {}",
            reports[0].name, reports[0].labels, l.name, l.labels
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let rows = comparison_rows(&reports);
    let md = comparison_markdown(&reports, &rows);
    pretext::io::write_atomic(&args.out.join("compare.md"), md.as_bytes())?;
    let json = serde_json::to_string_pretty(&rows)?;
    pretext::io::write_atomic(&args.out.join("compare.json"), json.as_bytes())?;
    plot_comparison(&rows, &args.out.join("compare.png"))?;
    print!("{md}");
    println!("wrote {}/compare.{{md,json,png}}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
