//! A contact sheet of the world: one row per class with its name, the object at rest and at the
//! peak of a pulse (as the renderer draws it), and a log-magnitude spectrogram of two seconds of
//! its sound (events at the class's tempo, 16 kHz, 512-point Hann STFT, hop 128, 0–8 kHz,
//! inferno colours, 70 dB range). Used for `docs/img/classes.png`.

use std::path::Path;

use plotters::prelude::*;
use realfft::RealFftPlanner;

use super::classes::{hsv_to_rgb, CLASSES};
use super::plan::PULSE_GAIN;
use super::sound;
use super::SynthError;
use crate::io::IoError;

const CELL: usize = 96;
const LABEL_W: usize = 110;
const SPEC_W: usize = 320;
const GAP: usize = 6;
const RATE: u32 = 16_000;

/// Draws one class object centred in a `CELL`×`CELL` square of `buf` (row stride `stride`
/// pixels) at offset (`ox`, `oy`), scaled by `scale`.
fn draw_object(buf: &mut [u8], stride: usize, ox: usize, oy: usize, class: usize, scale: f32) {
    let spec = &CLASSES[class];
    let r = CELL as f32 * 0.3 * scale;
    let c = CELL as f32 / 2.0;
    let colour = hsv_to_rgb(spec.hue, spec.saturation, 0.95);
    let bright = if scale > 1.0 { 1.2 } else { 1.0 };
    for y in 0..CELL {
        for x in 0..CELL {
            let (u, v) = ((x as f32 + 0.5 - c) / r, (y as f32 + 0.5 - c) / r);
            let p = ((oy + y) * stride + ox + x) * 3;
            if spec.shape.contains(u, v) {
                let s = spec.texture.shade(u, v) * bright;
                for k in 0..3 {
                    buf[p + k] = (colour[k] * s).clamp(0.0, 255.0) as u8;
                }
            } else {
                buf[p..p + 3].copy_from_slice(&[70, 72, 78]);
            }
        }
    }
}

/// Log-magnitude spectrogram (dB, frames × bins) of `x`.
fn spectrogram(x: &[f32]) -> Vec<Vec<f32>> {
    let n = 512;
    let hop = 128;
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n);
    let window: Vec<f32> =
        (0..n).map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos()).collect();
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut frames = Vec::new();
    let mut start = 0;
    while start + n <= x.len() {
        for (i, v) in input.iter_mut().enumerate() {
            *v = x[start + i] * window[i];
        }
        if fft.process(&mut input, &mut spectrum).is_err() {
            break;
        }
        frames.push(spectrum.iter().map(|c| 20.0 * (c.norm() + 1e-6).log10()).collect());
        start += hop;
    }
    frames
}

/// Writes the contact sheet PNG to `path`.
pub fn contact_sheet(path: &Path) -> Result<(), SynthError> {
    let width = LABEL_W + 2 * (CELL + GAP) + SPEC_W + GAP;
    let height = CLASSES.len() * (CELL + GAP) + GAP + 24;
    let mut buf = vec![24u8; width * height * 3];
    let cmap = crate::viz::inferno();
    for (row, spec) in CLASSES.iter().enumerate() {
        let oy = 24 + GAP + row * (CELL + GAP);
        draw_object(&mut buf, width, LABEL_W, oy, row, 1.0);
        draw_object(&mut buf, width, LABEL_W + CELL + GAP, oy, row, 1.0 + PULSE_GAIN);
        // Two seconds of sound at the class's own tempo.
        let mut track = vec![0.0f32; 2 * RATE as usize];
        let mut t = 0.05f32;
        let mut j = 0u64;
        while t < 1.9 {
            let ev = sound::event(spec.sound, spec.pitch_hz, RATE, j);
            sound::add_at(&mut track, &ev, (t * RATE as f32) as usize, 1.0);
            t += spec.interval_s;
            j += 1;
        }
        let spec_frames = spectrogram(&track);
        let max = spec_frames.iter().flatten().fold(f32::MIN, |m, v| m.max(*v));
        let ox = LABEL_W + 2 * (CELL + GAP);
        let bins = spec_frames.first().map_or(1, Vec::len);
        for x in 0..SPEC_W {
            let f = (x * spec_frames.len() / SPEC_W).min(spec_frames.len().saturating_sub(1));
            for y in 0..CELL {
                let bin = ((CELL - 1 - y) * bins / CELL).min(bins - 1);
                let db = spec_frames.get(f).and_then(|fr| fr.get(bin)).copied().unwrap_or(-200.0);
                let rgb = cmap.rgb((db - (max - 70.0)) / 70.0);
                let p = ((oy + y) * width + ox + x) * 3;
                buf[p..p + 3].copy_from_slice(&rgb);
            }
        }
    }
    crate::viz::ensure_font();
    {
        let root =
            BitMapBackend::with_buffer(&mut buf, (width as u32, height as u32)).into_drawing_area();
        let style = TextStyle::from(("sans-serif", 15).into_font()).color(&WHITE);
        let small = TextStyle::from(("sans-serif", 13).into_font()).color(&WHITE);
        let heads = [
            (8, "class"),
            (LABEL_W, "at rest"),
            (LABEL_W + CELL + GAP, "pulse peak"),
            (LABEL_W + 2 * (CELL + GAP), "sound: 2 s spectrogram, 0-8 kHz"),
        ];
        for (x, text) in heads {
            let _ = root.draw_text(text, &style, (x as i32, 5));
        }
        for (row, spec) in CLASSES.iter().enumerate() {
            let y = (24 + GAP + row * (CELL + GAP) + CELL / 2 - 16) as i32;
            let _ = root.draw_text(&format!("{row}: {}", spec.name), &style, (8, y));
            let _ = root.draw_text(&format!("{:?}", spec.sound), &small, (8, y + 20));
        }
        root.present().map_err(|e| {
            SynthError::Io(IoError::Format {
                path: path.to_path_buf(),
                format: "png",
                reason: e.to_string(),
            })
        })?;
    }
    crate::viz::save_rgb_png(path, width as u32, height as u32, &buf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn contact_sheet_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.png");
        super::contact_sheet(&p).unwrap();
        assert!(std::fs::metadata(&p).unwrap().len() > 10_000);
    }
}
