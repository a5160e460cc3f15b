//! `pretext tasks`: the registered pretext tasks, each with what it is for, its default preset
//! and its options (the `[task]` table; set with `--set task.KEY=VALUE`), and the shipped
//! presets.

use std::io::Write;
use std::process::ExitCode;

use pretext::models::ModelConfig;
use pretext::tasks::{preset_names, preset_text, TASKS};

/// List the pretext tasks, their options and the shipped presets.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Written through a locked handle so a closed pipe (`pretext tasks | head`) is an error the
    // caller treats as success, not a panic.
    let mut out = std::io::stdout().lock();
    if args.json {
        let tasks: Vec<serde_json::Value> = TASKS
            .iter()
            .map(|d| {
                let defaults = (d.defaults)();
                serde_json::json!({
                    "name": d.name,
                    "about": d.about,
                    "default_preset": d.default_preset,
                    "options": d.options.iter().map(|o| serde_json::json!({
                        "key": o.key, "default": defaults[o.key], "help": o.help,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let presets = preset_names();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "tasks": tasks, "presets": presets })
            )?
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    for d in TASKS {
        writeln!(out, "{}: {}", d.name, d.about)?;
        writeln!(out, "  default preset: {}", d.default_preset)?;
        let defaults = (d.defaults)();
        for o in d.options {
            let v = match &defaults[o.key] {
                serde_json::Value::Null => "unset".to_string(),
                v => v.to_string(),
            };
            writeln!(out, "  task.{:<22} = {v:<12} {}", o.key, o.help)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "presets (models/*.toml and the tasks' own; --preset NAME, or --config FILE):")?;
    for name in preset_names() {
        let text = preset_text(name)?;
        let m = ModelConfig::from_toml(text, name)?;
        let first = text.lines().next().unwrap_or("").trim_start_matches('#').trim();
        writeln!(
            out,
            "  {name:<10} {} px, {} frame(s), {} {:.2} s; {}",
            m.input.frame_size,
            m.input.frames,
            m.input.spectrogram.name(),
            m.input.clip_seconds,
            first
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
