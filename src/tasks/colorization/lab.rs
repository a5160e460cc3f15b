//! sRGB ↔ CIE Lab (D65), in f64 with the exact published formulas: the sRGB transfer curve
//! (IEC 61966-2-1: linear below 0.04045, the 2.4 power above), the sRGB→XYZ matrix of the same
//! standard (Lindbloom's 7-digit values, which is what skimage's `rgb2lab` rounds to 6 digits)
//! and its inverse, the D65 reference white (0.95047, 1, 1.08883; the matrix rows sum to it, so
//! white has a = b = 0), and CIE's piecewise cube root with ε = (6/29)³. Colours are `[0, 1]` sRGB;
//! [`lab_to_srgb`] returns values outside `[0, 1]` for colours out of the gamut (callers clamp to
//! display them, [`in_gamut`] tells).

/// sRGB (linear) → XYZ, D65.
const RGB_TO_XYZ: [[f64; 3]; 3] = [
    [0.412_456_4, 0.357_576_1, 0.180_437_5],
    [0.212_672_9, 0.715_152_2, 0.072_175_0],
    [0.019_333_9, 0.119_192_0, 0.950_304_1],
];

/// XYZ → sRGB (linear), D65: the inverse of [`RGB_TO_XYZ`].
const XYZ_TO_RGB: [[f64; 3]; 3] = [
    [3.240_454_2, -1.537_138_5, -0.498_531_4],
    [-0.969_266_0, 1.876_010_8, 0.041_556_0],
    [0.055_643_4, -0.204_025_9, 1.057_225_2],
];

/// The D65 reference white in XYZ.
pub const WHITE: [f64; 3] = [0.950_47, 1.0, 1.088_83];

const DELTA: f64 = 6.0 / 29.0;

fn to_linear(c: f64) -> f64 {
    if c <= 0.040_45 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

fn from_linear(c: f64) -> f64 {
    if c <= 0.003_130_8 {
        12.92 * c
    } else {
        1.055 * c.max(0.0).powf(1.0 / 2.4) - 0.055
    }
}

fn f(t: f64) -> f64 {
    if t > DELTA * DELTA * DELTA {
        t.cbrt()
    } else {
        t / (3.0 * DELTA * DELTA) + 4.0 / 29.0
    }
}

fn f_inv(t: f64) -> f64 {
    if t > DELTA {
        t * t * t
    } else {
        3.0 * DELTA * DELTA * (t - 4.0 / 29.0)
    }
}

fn mul(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
}

/// `[L, a, b]` of an sRGB colour with channels in `[0, 1]`.
pub fn srgb_to_lab(rgb: [f64; 3]) -> [f64; 3] {
    let xyz = mul(&RGB_TO_XYZ, rgb.map(to_linear));
    let [fx, fy, fz] = std::array::from_fn(|i| f(xyz[i] / WHITE[i]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// The linear sRGB of `[L, a, b]` (unclamped: out-of-gamut colours leave `[0, 1]`).
fn lab_to_linear(lab: [f64; 3]) -> [f64; 3] {
    let fy = (lab[0] + 16.0) / 116.0;
    let f = [fy + lab[1] / 500.0, fy, fy - lab[2] / 200.0];
    mul(&XYZ_TO_RGB, std::array::from_fn(|i| WHITE[i] * f_inv(f[i])))
}

/// The sRGB colour of `[L, a, b]`, channels unclamped (outside `[0, 1]` when out of gamut).
pub fn lab_to_srgb(lab: [f64; 3]) -> [f64; 3] {
    lab_to_linear(lab).map(from_linear)
}

/// Whether `[L, a, b]` is an sRGB colour: every linear channel in `[0, 1]`, give or take 1e-6
/// (the matrices' 7 digits).
pub fn in_gamut(lab: [f64; 3]) -> bool {
    lab_to_linear(lab).iter().all(|c| (-1e-6..=1.0 + 1e-6).contains(c))
}

/// The displayable 8-bit sRGB of `[L, a, b]` (clamped into the gamut channel by channel).
pub fn lab_to_rgb8(lab: [f64; 3]) -> [u8; 3] {
    lab_to_srgb(lab).map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(x: [f64; 3], y: [f64; 3], tol: f64) -> bool {
        x.iter().zip(&y).all(|(a, b)| (a - b).abs() <= tol)
    }

    /// Published values (skimage.color.rgb2lab, D65, 2°; Lindbloom's calculator agrees to the
    /// 2nd decimal): white, black, the primaries and mid grey.
    #[test]
    fn known_srgb_colours_have_their_published_lab() {
        let cases = [
            ([1.0, 1.0, 1.0], [100.0, 0.0, 0.0]),
            ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]),
            ([1.0, 0.0, 0.0], [53.2408, 80.0925, 67.2032]),
            ([0.0, 1.0, 0.0], [87.7347, -86.1827, 83.1793]),
            ([0.0, 0.0, 1.0], [32.2970, 79.1875, -107.8602]),
            ([0.5, 0.5, 0.5], [53.3890, 0.0, 0.0]),
        ];
        for (rgb, want) in cases {
            let got = srgb_to_lab(rgb);
            assert!(close(got, want, 0.01), "{rgb:?}: {got:?}, published {want:?}");
            assert!(close(lab_to_srgb(want), rgb, 2e-4), "{want:?} back: {:?}", lab_to_srgb(want));
        }
    }

    #[test]
    fn rgb_to_lab_to_rgb_and_lab_to_rgb_to_lab_round_trip() {
        let steps = 17;
        let mut worst: f64 = 0.0;
        for r in 0..steps {
            for g in 0..steps {
                for b in 0..steps {
                    let rgb = [r, g, b].map(|v| v as f64 / (steps - 1) as f64);
                    let lab = srgb_to_lab(rgb);
                    assert!(in_gamut(lab), "{rgb:?}");
                    let back = lab_to_srgb(lab);
                    let again = srgb_to_lab(back);
                    for i in 0..3 {
                        worst = worst.max((back[i] - rgb[i]).abs()).max((again[i] - lab[i]).abs());
                    }
                }
            }
        }
        assert!(worst < 1e-3, "round trip error {worst}");
        // Out of the gamut: a saturated green-blue at mid lightness.
        assert!(!in_gamut([50.0, -100.0, -100.0]));
        assert!(in_gamut([50.0, 0.0, 0.0]));
        assert_eq!(lab_to_rgb8([100.0, 0.0, 0.0]), [255, 255, 255]);
    }
}
