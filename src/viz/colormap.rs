//! Perceptually uniform colour maps (viridis, inferno) as 256-entry tables, built once from
//! plotters' definitions.

use std::sync::OnceLock;

use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};

/// A 256-entry RGB lookup table.
pub struct Colormap {
    table: [[u8; 3]; 256],
}

impl Colormap {
    /// Colour of `t` in [0, 1] (clamped; NaN maps to 0).
    pub fn rgb(&self, t: f32) -> [u8; 3] {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        self.table[(t * 255.0).round() as usize]
    }
}

/// Viridis (dark blue → yellow).
pub fn viridis() -> &'static Colormap {
    static MAP: OnceLock<Colormap> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut table = [[0u8; 3]; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let c = ViridisRGB.get_color_normalized(i as f32, 0.0, 255.0);
            *entry = [c.0, c.1, c.2];
        }
        Colormap { table }
    })
}

/// Inferno-like (black → red → yellow), from a few anchor colours of matplotlib's inferno,
/// linearly interpolated.
pub fn inferno() -> &'static Colormap {
    static MAP: OnceLock<Colormap> = OnceLock::new();
    const ANCHORS: [[f32; 3]; 9] = [
        [0.0, 0.0, 4.0],
        [31.0, 12.0, 72.0],
        [85.0, 15.0, 109.0],
        [136.0, 34.0, 106.0],
        [186.0, 54.0, 85.0],
        [227.0, 89.0, 51.0],
        [249.0, 140.0, 10.0],
        [249.0, 201.0, 50.0],
        [252.0, 255.0, 164.0],
    ];
    MAP.get_or_init(|| {
        let mut table = [[0u8; 3]; 256];
        for (i, entry) in table.iter_mut().enumerate() {
            let x = i as f32 / 255.0 * (ANCHORS.len() - 1) as f32;
            let k = (x.floor() as usize).min(ANCHORS.len() - 2);
            let f = x - k as f32;
            for c in 0..3 {
                entry[c] = (ANCHORS[k][c] * (1.0 - f) + ANCHORS[k + 1][c] * f).round() as u8;
            }
        }
        Colormap { table }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_monotone_in_brightness() {
        for map in [viridis(), inferno()] {
            let lum =
                |c: [u8; 3]| 0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32;
            assert!(lum(map.rgb(0.0)) < lum(map.rgb(0.5)));
            assert!(lum(map.rgb(0.5)) < lum(map.rgb(1.0)));
            assert_eq!(map.rgb(f32::NAN), map.rgb(0.0));
        }
    }
}
