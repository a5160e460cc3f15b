//! Heatmaps people can read: a score map blended over its frame with a perceptual colour map,
//! a colour bar with its scale on the right, and an optional caption.
//!
//! The map must already have the frame's size (upsample it with
//! [`crate::evaluation::localization::upsample`]) and be scaled to [0, 1]. The colour bar is
//! appended to the right, so the output is wider than the frame; its width keeps the total even
//! so the pictures can go straight into a yuv420p video.

use plotters::prelude::*;

use super::{ensure_font, Colormap, RgbImage};

/// How the overlay looks.
#[derive(Clone, Copy)]
pub struct OverlayStyle {
    /// Opacity of the heatmap over the frame, in [0, 1].
    pub alpha: f32,
    /// Colour map of the heatmap.
    pub colormap: &'static Colormap,
    /// Whether to append a colour bar with a 0–1 scale.
    pub colour_bar: bool,
}

impl Default for OverlayStyle {
    fn default() -> Self {
        OverlayStyle { alpha: 0.5, colormap: super::inferno(), colour_bar: true }
    }
}

impl std::fmt::Debug for OverlayStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverlayStyle")
            .field("alpha", &self.alpha)
            .field("colour_bar", &self.colour_bar)
            .finish_non_exhaustive()
    }
}

/// Width of the colour-bar panel for a frame of `width × height` (0 without a bar); the total
/// width stays even.
pub fn colour_bar_width(width: u32, height: u32, style: &OverlayStyle) -> u32 {
    if !style.colour_bar {
        return 0;
    }
    let font = font_size(height);
    let panel = 6 + (height / 16).max(10) + 4 + (font as u32 * 2).max(18) + 2;
    panel + (width + panel) % 2
}

fn font_size(height: u32) -> f64 {
    (height as f64 / 14.0).clamp(9.0, 18.0)
}

/// Draws text into an RGB buffer (best effort: text is decoration, a failure leaves no text).
pub fn draw_text(image: &mut RgbImage, text: &str, x: i32, y: i32, size: f64, colour: [u8; 3]) {
    ensure_font();
    if !image.is_consistent() {
        return;
    }
    let (w, h) = (image.width, image.height);
    let root = BitMapBackend::with_buffer(&mut image.rgb, (w, h)).into_drawing_area();
    let style = ("sans-serif", size).into_font().color(&RGBColor(colour[0], colour[1], colour[2]));
    // Rendering into memory fails only without a font; ensure_font() registered one.
    let _ = root.draw_text(text, &style, (x, y));
    let _ = root.present();
}

/// Blends `heat` (one value in [0, 1] per frame pixel, row-major) over `frame`, adds the colour
/// bar and a caption at the top-left. A map of the wrong size leaves the frame unblended.
pub fn overlay(
    frame: &RgbImage,
    heat: &[f32],
    style: &OverlayStyle,
    caption: Option<&str>,
) -> RgbImage {
    let (w, h) = (frame.width, frame.height);
    let bar = colour_bar_width(w, h, style);
    let mut out = RgbImage::filled(w + bar, h, [24, 24, 24]);
    let mut blended = frame.clone();
    if heat.len() == (w * h) as usize && frame.is_consistent() {
        let a = style.alpha.clamp(0.0, 1.0);
        for (px, &v) in blended.rgb.chunks_exact_mut(3).zip(heat) {
            let c = style.colormap.rgb(v);
            for k in 0..3 {
                px[k] =
                    ((1.0 - a) * px[k] as f32 + a * c[k] as f32).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out.blit(&blended, 0, 0);
    if bar > 0 {
        let font = font_size(h);
        let (x0, bar_w) = (w + 6, (h / 16).max(10));
        let (top, bottom) = ((font / 2.0) as u32 + 1, h.saturating_sub((font / 2.0) as u32 + 1));
        let span = bottom.saturating_sub(top).max(1);
        for y in top..bottom {
            let c = style.colormap.rgb(1.0 - (y - top) as f32 / span as f32);
            for x in x0..(x0 + bar_w).min(w + bar) {
                let i = ((y * (w + bar) + x) * 3) as usize;
                out.rgb[i..i + 3].copy_from_slice(&c);
            }
        }
        let lx = (x0 + bar_w + 4) as i32;
        for (label, y) in [("1", top), (".5", top + span / 2), ("0", bottom)] {
            draw_text(&mut out, label, lx, y as i32 - (font / 2.0) as i32, font, [230, 230, 230]);
        }
    }
    if let Some(text) = caption {
        let font = font_size(h);
        draw_text(&mut out, text, 3, 2, font, [255, 255, 255]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_blends_adds_an_even_bar_and_keeps_height() {
        let frame = RgbImage::filled(63, 48, [0, 0, 0]);
        let mut heat = vec![0f32; 63 * 48];
        heat[0] = 1.0;
        let style = OverlayStyle::default();
        let out = overlay(&frame, &heat, &style, Some("t=0.50"));
        assert!(out.is_consistent());
        assert_eq!(out.height, 48);
        assert!(out.width > 63 && out.width % 2 == 0);
        // Bottom-right frame pixel: 0.5·black + 0.5·inferno(0) (nearly black); top-left hot.
        let px = |x: u32, y: u32| {
            let i = ((y * out.width + x) * 3) as usize;
            [out.rgb[i], out.rgb[i + 1], out.rgb[i + 2]]
        };
        let hot = style.colormap.rgb(1.0);
        assert_eq!(px(62, 47), [0, 0, 2]);
        // The caption may cover (0, 0); check the hot pixel where the text is not.
        let mut heat2 = vec![0f32; 63 * 48];
        heat2[47 * 63] = 1.0;
        let out2 = overlay(&frame, &heat2, &style, None);
        let i = (47 * out2.width * 3) as usize;
        assert_eq!(&out2.rgb[i..i + 3], &hot.map(|c| (c as f32 * 0.5).round() as u8));
    }

    #[test]
    fn no_bar_keeps_the_frame_size() {
        let frame = RgbImage::filled(32, 32, [10, 20, 30]);
        let style = OverlayStyle { colour_bar: false, ..OverlayStyle::default() };
        let out = overlay(&frame, &[0.0; 4], &style, None);
        assert_eq!(out, frame);
    }
}
