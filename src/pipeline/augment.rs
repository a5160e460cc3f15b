//! Frame augmentation on the feature workers: crop a `side × side` square out of the decoded
//! frame at the example's crop offset, mirror it, jitter brightness/contrast/saturation, scale
//! to [0, 1] and normalise by the configured mean/std, writing `[3, side, side]` f32 (CHW).
//! The parameters come from the example's [`AugmentParams`], so the output is reproducible.

use super::AugmentParams;
use crate::media::RgbFrame;

/// Normalisation constants.
#[derive(Debug, Clone, Copy)]
pub struct Normalize {
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

/// Writes the augmented crop of `frame` into `out` (`3 * side * side` values, CHW).
/// Frames smaller than the crop are sampled with clamped coordinates (edge replication).
pub fn augment_into(
    frame: &RgbFrame,
    p: &AugmentParams,
    side: usize,
    norm: &Normalize,
    out: &mut [f32],
) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let plane = side * side;
    if w == 0 || h == 0 || frame.data.len() < w * h * 3 || out.len() < 3 * plane {
        out.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let x0 = (p.crop_x.clamp(0.0, 1.0) * w.saturating_sub(side) as f32).round() as usize;
    let y0 = (p.crop_y.clamp(0.0, 1.0) * h.saturating_sub(side) as f32).round() as usize;
    // Pass 1: crop (+ flip) into [0,1] RGB, with brightness applied; accumulate grey mean.
    let mut grey_sum = 0.0f64;
    for y in 0..side {
        let sy = (y0 + y).min(h - 1);
        let row = &frame.data[sy * w * 3..(sy + 1) * w * 3];
        for x in 0..side {
            let xx = if p.flip { side - 1 - x } else { x };
            let sx = (x0 + xx).min(w - 1);
            let px = &row[sx * 3..sx * 3 + 3];
            let mut g = 0.0f32;
            for c in 0..3 {
                let v = px[c] as f32 / 255.0 * p.brightness;
                out[c * plane + y * side + x] = v;
                g += v * [0.299, 0.587, 0.114][c];
            }
            grey_sum += g as f64;
        }
    }
    let grey_mean = (grey_sum / plane as f64) as f32;
    let (ct, sat) = (p.contrast, p.saturation);
    let identity = (ct - 1.0).abs() < 1e-6 && (sat - 1.0).abs() < 1e-6;
    for i in 0..plane {
        let (mut r, mut g, mut b) = (out[i], out[plane + i], out[2 * plane + i]);
        if !identity {
            r = (r - grey_mean) * ct + grey_mean;
            g = (g - grey_mean) * ct + grey_mean;
            b = (b - grey_mean) * ct + grey_mean;
            let grey = 0.299 * r + 0.587 * g + 0.114 * b;
            r = grey + (r - grey) * sat;
            g = grey + (g - grey) * sat;
            b = grey + (b - grey) * sat;
        }
        out[i] = (r.clamp(0.0, 1.0) - norm.mean[0]) / norm.std[0];
        out[plane + i] = (g.clamp(0.0, 1.0) - norm.mean[1]) / norm.std[1];
        out[2 * plane + i] = (b.clamp(0.0, 1.0) - norm.mean[2]) / norm.std[2];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> RgbFrame {
        // 4x2 frame; red channel = x * 10 + y, green = 100, blue = 200.
        let mut data = Vec::new();
        for y in 0..2u8 {
            for x in 0..4u8 {
                data.extend_from_slice(&[x * 10 + y, 100, 200]);
            }
        }
        RgbFrame { width: 4, height: 2, pts: 0.0, data }
    }

    fn ident() -> AugmentParams {
        AugmentParams {
            crop_x: 1.0,
            crop_y: 0.0,
            flip: false,
            brightness: 1.0,
            contrast: 1.0,
            saturation: 1.0,
        }
    }

    #[test]
    fn crop_flip_and_normalise() {
        let norm = Normalize { mean: [0.0; 3], std: [1.0; 3] };
        let mut out = vec![0.0; 12];
        augment_into(&frame(), &ident(), 2, &norm, &mut out);
        // crop_x = 1 → columns 2..4, rows 0..2.
        let red: Vec<u8> = out[..4].iter().map(|v| (v * 255.0).round() as u8).collect();
        assert_eq!(red, vec![20, 30, 21, 31]);
        assert!((out[4] - 100.0 / 255.0).abs() < 1e-6);
        let mut p = ident();
        p.flip = true;
        augment_into(&frame(), &p, 2, &norm, &mut out);
        let red: Vec<u8> = out[..4].iter().map(|v| (v * 255.0).round() as u8).collect();
        assert_eq!(red, vec![30, 20, 31, 21]);
        let norm2 = Normalize { mean: [0.5; 3], std: [0.25; 3] };
        augment_into(&frame(), &ident(), 2, &norm2, &mut out);
        assert!((out[8] - (200.0 / 255.0 - 0.5) / 0.25).abs() < 1e-5);
    }

    #[test]
    fn jitter_changes_values_within_range() {
        let norm = Normalize { mean: [0.0; 3], std: [1.0; 3] };
        let mut a = vec![0.0; 12];
        let mut b = vec![0.0; 12];
        augment_into(&frame(), &ident(), 2, &norm, &mut a);
        let mut p = ident();
        p.brightness = 1.2;
        p.saturation = 0.5;
        augment_into(&frame(), &p, 2, &norm, &mut b);
        assert_ne!(a, b);
        assert!(b.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
