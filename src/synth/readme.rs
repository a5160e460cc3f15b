//! The `README.md` written next to a generated world: what the classes look and sound like, the
//! options it was made with, and counts of splits and hard cases, so a folder of clips explains
//! itself without this program.

use std::fmt::Write;

use super::annotations::ClipAnnotation;
use super::classes::CLASSES;
use super::config::SynthConfig;

/// Markdown describing the world `config` made, with `annotations` for the counts.
pub fn world_readme(config: &SynthConfig, annotations: &[ClipAnnotation]) -> String {
    let mut s = String::new();
    let count = |f: &dyn Fn(&ClipAnnotation) -> bool| annotations.iter().filter(|a| f(a)).count();
    let _ = writeln!(s, "# A synthetic audio-visual world\n");
    let _ = writeln!(
        s,
        "Made by `pretext synth` (see docs/synthetic-world.md in the pretext repository). \
         {} clips of {:.2} s, {}x{} at {} fps, mono audio at {} Hz, in {} files.\n",
        config.clips,
        config.frames() as f64 / f64::from(config.fps),
        config.width,
        config.height,
        config.fps,
        config.sample_rate,
        config.container.extension()
    );
    let _ = writeln!(
        s,
        "Each clip shows {}–{} objects moving over a textured, slowly changing background. Up to {} \
         of them make sound; each sounding object pulses (grows, brightens and shakes) at every \
         onset of its sound, so both *what* and *when* link picture and sound. The others are \
         silent distractors.\n",
        config.min_objects, config.max_objects, config.max_sounding
    );
    let _ = writeln!(
        s,
        "Regenerate (byte-identical with the same FFmpeg build):\n\n```\npretext synth --out DIR {}\n```\n",
        config.to_args().join(" ")
    );
    let _ = writeln!(s, "## Classes\n\n| id | name | shape | texture | hue | sound | pitch (Hz) | onset interval (s) |");
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for (i, c) in CLASSES.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {i} | {} | {:?} | {:?} | {:.0}° | {:?} | {:.0} | {:.2} |",
            c.name, c.shape, c.texture, c.hue, c.sound, c.pitch_hz, c.interval_s
        );
    }
    let pct = |x: f64| {
        let v = (x * config.object_scale * 10.0).round() / 10.0;
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let _ = writeln!(
        s,
        "\nPer instance: pitch ±3 semitones, tempo ×0.8–1.25, loudness 0.4–1, radius {}–{} % of \
         the frame, hue ±10°.\n",
        pct(8.0),
        pct(13.0)
    );
    let _ = writeln!(s, "## Hard cases\n");
    let _ = writeln!(s, "| option | value | clips |\n|---|---|---|");
    let _ = writeln!(
        s,
        "| off-screen sound probability | {} | {} |",
        config.offscreen_prob,
        count(&|a| a.offscreen_class.is_some())
    );
    let _ = writeln!(
        s,
        "| silence probability | {} | {} |",
        config.silence_prob,
        count(&|a| a.objects.iter().all(|o| !o.sounding))
    );
    let dup = |a: &ClipAnnotation| {
        a.objects
            .iter()
            .enumerate()
            .any(|(i, o)| a.objects[i + 1..].iter().any(|p| p.class == o.class))
    };
    let _ = writeln!(
        s,
        "| duplicate-class probability | {} | {} |",
        config.duplicate_prob,
        count(&dup)
    );
    let snr = config.noise_snr_db.map_or("none".to_string(), |v| format!("{v} dB"));
    let _ = writeln!(s, "| background noise SNR | {snr} | all |");
    let _ = writeln!(s, "| camera pan amplitude | {} px | all |", config.pan_px);
    let _ = writeln!(s, "\n## Splits\n");
    for name in ["train", "val", "test"] {
        let _ = writeln!(s, "- {name}: {} clips", count(&|a| a.split == name));
    }
    let _ = writeln!(
        s,
        "\n## Files\n\n- `clip_NNNN.{}`: the clips.\n- `annotations.jsonl`: one JSON object per \
         clip: `file`, `split`, `duration`, `fps`, `sample_rate`, `width`, `height`, `objects` \
         (`class`, `class_name`, `sounding`, per-frame `boxes` `[x0, y0, x1, y1]` in pixels with \
         x1/y1 exclusive, frame i shown at i/fps, and `onsets` in seconds), `offscreen_class`, \
         `offscreen_onsets`, and `params` (the world options and this clip's draws).\n\n\
         Seed {}: the same options and seed give byte-identical files on the same FFmpeg build.",
        config.container.extension(),
        config.seed
    );
    s
}
