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
        let mut tasks = Vec::new();
        for d in TASKS {
            let (defaults, from_preset) = effective_defaults(d)?;
            tasks.push(serde_json::json!({
                "name": d.name,
                "about": d.about,
                "default_preset": d.default_preset,
                "options": d.options.iter().map(|o| serde_json::json!({
                    "key": o.key,
                    "default": defaults[o.key],
                    "set_by_preset": from_preset.contains(&o.key),
                    "help": o.help,
                })).collect::<Vec<_>>(),
            }));
        }
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
        writeln!(
            out,
            "  default preset: {} (`pretext train --task {}` with no other flag runs it; values \
             marked * come from its [task] table)",
            d.default_preset, d.name
        )?;
        let (defaults, from_preset) = effective_defaults(d)?;
        for o in d.options {
            let v = match &defaults[o.key] {
                serde_json::Value::Null => "unset".to_string(),
                v => v.to_string(),
            };
            let mark = if from_preset.contains(&o.key) { "*" } else { " " };
            writeln!(out, "  task.{:<22} = {v:<12}{mark} {}", o.key, o.help)?;
        }
        writeln!(out)?;
    }
    writeln!(out, "presets (models/*.toml and the tasks' own; --preset NAME, or --config FILE):")?;
    let width = preset_names().iter().map(|n| n.len()).max().unwrap_or(10);
    for name in preset_names() {
        let text = preset_text(name)?;
        let m = ModelConfig::from_toml(text, name)?;
        let first = first_sentence(text);
        writeln!(
            out,
            "  {name:<width$} {} px, {} frame(s), {} {:.2} s; {}",
            m.input.frame_size,
            m.input.frames,
            m.input.spectrogram.name(),
            m.input.clip_seconds,
            first
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A task's option values as `pretext train --task NAME` with no other flag sees them: the
/// built-in defaults overlaid by the default preset's `[task]` table, and which keys the preset
/// set.
fn effective_defaults(
    d: &pretext::tasks::TaskDescriptor,
) -> anyhow::Result<(serde_json::Value, Vec<&'static str>)> {
    let mut defaults = (d.defaults)();
    let mut from_preset = Vec::new();
    let text = preset_text(d.default_preset)?;
    let table: toml::Table = text.parse()?;
    if let Some(toml::Value::Table(task)) = table.get("task") {
        for o in d.options {
            if let Some(v) = task.get(o.key) {
                defaults[o.key] = serde_json::to_value(v)?;
                from_preset.push(o.key);
            }
        }
    }
    Ok((defaults, from_preset))
}

/// The first sentence of a preset's leading comment: what it is for.
fn first_sentence(text: &str) -> String {
    let comment: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    let joined = comment.join(" ");
    let end = joined.find(". ").map(|i| i + 1).unwrap_or(joined.len());
    joined[..end].trim_end_matches(':').to_string()
}
