//! Upsampling a coarse score map to the evaluation grid, reproducing PyTorch's
//! `F.interpolate(x, size, mode=..., align_corners=...)` on CPU for `float32` input.
//!
//! - Source coordinates follow ATen's `area_pixel_compute_source_index`: with
//!   `align_corners=False`, `src = scale·(dst + 0.5) − 0.5` with `scale = in/out`, clamped at 0
//!   for bilinear and unclamped for bicubic; with `align_corners=True`,
//!   `src = dst·(in − 1)/(out − 1)`.
//! - Bilinear reads the two neighbours `i` and `min(i + 1, in − 1)`.
//! - Bicubic is Keys' convolution with `A = −0.75`, reading four neighbours per axis with indices
//!   clamped into the image (`upsample_get_value_bounded`); values are not clamped, so bicubic
//!   can overshoot the input range, as in PyTorch.
//! - Arithmetic is `f32`, as ATen's CPU kernel does for `float32`, so results agree to ~1e-6.

use super::LocalizationError;

/// How a coarse map is resized to the evaluation grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// `mode='bilinear'` (EZ-VSL `test.py`, the default here).
    #[default]
    Bilinear,
    /// `mode='bicubic'` (EZ-VSL `train.py` validation, SLAVC).
    Bicubic,
}

/// Source coordinate of output index `dst` (ATen `area_pixel_compute_source_index`).
fn source_index(
    in_len: usize,
    out_len: usize,
    dst: usize,
    align_corners: bool,
    cubic: bool,
) -> f32 {
    if align_corners {
        let scale = if out_len > 1 { (in_len as f32 - 1.0) / (out_len as f32 - 1.0) } else { 0.0 };
        scale * dst as f32
    } else {
        let scale = in_len as f32 / out_len as f32;
        let src = scale * (dst as f32 + 0.5) - 0.5;
        if !cubic && src < 0.0 {
            0.0
        } else {
            src
        }
    }
}

/// Keys' cubic kernel for |x| ≤ 1.
fn cubic1(x: f32, a: f32) -> f32 {
    ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
}

/// Keys' cubic kernel for 1 < |x| < 2.
fn cubic2(x: f32, a: f32) -> f32 {
    ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
}

/// The four bicubic weights for fractional offset `t` (ATen `get_cubic_upsample_coefficients`).
fn cubic_weights(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    [cubic2(t + 1.0, A), cubic1(t, A), cubic1(1.0 - t, A), cubic2(2.0 - t, A)]
}

/// Resizes a row-major `in_h × in_w` map to `out_h × out_w`.
///
/// `align_corners` is `false` in the published localisation code except SLAVC's `test.py`.
/// Fails when `map.len() != in_h·in_w` or a dimension is zero.
pub fn upsample(
    map: &[f32],
    (in_h, in_w): (usize, usize),
    (out_h, out_w): (usize, usize),
    mode: Interpolation,
    align_corners: bool,
) -> Result<Vec<f32>, LocalizationError> {
    if map.len() != in_h * in_w || in_h == 0 || in_w == 0 || out_h == 0 || out_w == 0 {
        return Err(LocalizationError::Shape {
            what: "score map to upsample",
            expected: in_h * in_w,
            got: map.len(),
        });
    }
    let at = |y: usize, x: usize| map[y * in_w + x];
    let mut out = Vec::with_capacity(out_h * out_w);
    match mode {
        Interpolation::Bilinear => {
            let axis = |in_len: usize, out_len: usize| -> Vec<(usize, usize, f32, f32)> {
                (0..out_len)
                    .map(|d| {
                        let src = source_index(in_len, out_len, d, align_corners, false);
                        let i0 = (src as usize).min(in_len - 1);
                        let i1 = if i0 < in_len - 1 { i0 + 1 } else { i0 };
                        let l1 = src - i0 as f32;
                        (i0, i1, 1.0 - l1, l1)
                    })
                    .collect()
            };
            let ys = axis(in_h, out_h);
            let xs = axis(in_w, out_w);
            for &(y0, y1, hy0, hy1) in &ys {
                for &(x0, x1, wx0, wx1) in &xs {
                    let v = hy0 * (wx0 * at(y0, x0) + wx1 * at(y0, x1))
                        + hy1 * (wx0 * at(y1, x0) + wx1 * at(y1, x1));
                    out.push(v);
                }
            }
        }
        Interpolation::Bicubic => {
            let axis = |in_len: usize, out_len: usize| -> Vec<([usize; 4], [f32; 4])> {
                (0..out_len)
                    .map(|d| {
                        let src = source_index(in_len, out_len, d, align_corners, true);
                        let base = src.floor();
                        let t = src - base;
                        let base = base as i64;
                        let idx = [0i64, 1, 2, 3]
                            .map(|k| (base - 1 + k).clamp(0, in_len as i64 - 1) as usize);
                        (idx, cubic_weights(t))
                    })
                    .collect()
            };
            let ys = axis(in_h, out_h);
            let xs = axis(in_w, out_w);
            for (yi, yw) in &ys {
                for (xi, xw) in &xs {
                    let mut rows = [0f32; 4];
                    for (r, &y) in rows.iter_mut().zip(yi) {
                        *r = at(y, xi[0]) * xw[0]
                            + at(y, xi[1]) * xw[1]
                            + at(y, xi[2]) * xw[2]
                            + at(y, xi[3]) * xw[3];
                    }
                    out.push(rows[0] * yw[0] + rows[1] * yw[1] + rows[2] * yw[2] + rows[3] * yw[3]);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUT: [f32; 6] = [0.0, 1.0, 4.0, 2.0, -1.0, 3.0];

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "value {i}: {x} vs {y}");
        }
    }

    #[test]
    fn bilinear_hand_computed_1d() {
        // 1×2 → 1×4 with align_corners=False: src = 0.5·(d+0.5) − 0.5 = -0.25→0, 0.25, 0.75, 1.25
        // → clamped index 1 for the last: [a, 0.75a+0.25b, 0.25a+0.75b, b].
        let out = upsample(&[2.0, 6.0], (1, 2), (1, 4), Interpolation::Bilinear, false).unwrap();
        close(&out, &[2.0, 3.0, 5.0, 6.0], 1e-6);
    }

    #[test]
    fn constant_maps_stay_constant() {
        let map = vec![0.7f32; 7 * 7];
        for mode in [Interpolation::Bilinear, Interpolation::Bicubic] {
            for ac in [false, true] {
                let out = upsample(&map, (7, 7), (224, 224), mode, ac).unwrap();
                assert!(out.iter().all(|v| (v - 0.7).abs() < 1e-5), "{mode:?} {ac}");
            }
        }
    }

    // Golden values from PyTorch 2.11 (torch.nn.functional.interpolate on float32):
    //   x = torch.tensor([[0., 1., 4.], [2., -1., 3.]]).view(1, 1, 2, 3)
    //   F.interpolate(x, size=(3, 5), mode=MODE, align_corners=AC).flatten()
    fn golden(mode: Interpolation, ac: bool, torch: [f32; 15]) {
        let out = upsample(&INPUT, (2, 3), (3, 5), mode, ac).unwrap();
        close(&out, &torch, 1e-5);
    }

    #[test]
    fn small_maps_match_torch() {
        #[rustfmt::skip]
        golden(Interpolation::Bilinear, false, [
            0.0, 0.4, 1.0, 2.8, 4.0, 1.0, 0.6, 0.0, 2.1, 3.5, 2.0, 0.8, -1.0, 1.4, 3.0,
        ]);
        #[rustfmt::skip]
        golden(Interpolation::Bilinear, true, [
            0.0, 0.5, 1.0, 2.5, 4.0, 1.0, 0.5, 0.0, 1.75, 3.5, 2.0, 0.5, -1.0, 1.0, 3.0,
        ]);
        #[rustfmt::skip]
        golden(Interpolation::Bicubic, false, [
            -0.30294448, 0.1393621, 1.1736114, 3.0534868, 4.3664737,
            1.0960002, 0.36000043, 0.0, 2.0700006, 3.8360007,
            2.494944, 0.58063877, -1.1736108, 1.0865153, 3.3055286,
        ]);
        #[rustfmt::skip]
        golden(Interpolation::Bicubic, true, [
            0.0, 0.21875, 1.0, 2.59375, 4.0, 1.0, 0.171875, 0.0, 1.65625, 3.5,
            2.0, 0.125, -1.0, 0.71875, 3.0,
        ]);
    }

    // x = ((i·7 + j)² mod 11) on 7×7, upsampled to 224×224 (align_corners=False) in PyTorch 2.11:
    // sum, [0,0], [100,37], [223,223], [17,200].
    #[test]
    fn seven_to_224_matches_torch() {
        let map: Vec<f32> = (0..7)
            .flat_map(|i| (0..7).map(move |j| (((i * 7 + j) * (i * 7 + j)) % 11) as f32))
            .collect();
        let cases = [
            (Interpolation::Bilinear, [199680.0, 0.0, 2.478_76, 5.0, 3.013_916]),
            (Interpolation::Bicubic, [200_079.84, -0.551_525_5, 1.817_698, 4.152_688, 2.951_137]),
        ];
        for (mode, want) in cases {
            let out = upsample(&map, (7, 7), (224, 224), mode, false).unwrap();
            let sum: f64 = out.iter().map(|&v| v as f64).sum();
            assert!((sum - want[0] as f64).abs() < 0.5, "{mode:?} sum {sum}");
            let got = [out[0], out[100 * 224 + 37], out[223 * 224 + 223], out[17 * 224 + 200]];
            close(&got, &want[1..], 1e-4);
        }
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(upsample(&[1.0; 5], (2, 3), (4, 4), Interpolation::Bilinear, false).is_err());
        assert!(upsample(&[], (0, 0), (4, 4), Interpolation::Bicubic, false).is_err());
    }
}
