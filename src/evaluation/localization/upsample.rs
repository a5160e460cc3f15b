//! Upsampling a coarse score map to the evaluation grid, reproducing what the published test
//! scripts call: PyTorch's `F.interpolate(x, size, mode=..., align_corners=...)` on CPU for
//! `float32` input, and OpenCV's `cv2.resize(x, dsize, interpolation=cv2.INTER_LINEAR)` (LVS).
//!
//! PyTorch (ATen `UpSample.h`, `UpSampleKernel.cpp`):
//! - source coordinates follow `area_pixel_compute_source_index`: with `align_corners=False`,
//!   `src = scale·(dst + 0.5) − 0.5` with `scale = in/out` in `f32` and the rest in `f64` (C++
//!   promotes `dst + 0.5` to double), rounded to `f32`, clamped at 0 for bilinear and unclamped
//!   for bicubic; with `align_corners=True`, `src = dst·(in − 1)/(out − 1)` in `f32`;
//! - bilinear reads the two neighbours `i` and `min(i + 1, in − 1)` and, like ATen's vectorised
//!   CPU kernel, fuses the first product of each pair: `fma(a, w₀, b·w₁)` along x, then the same
//!   along y. This is bit-identical to PyTorch 2.11's CPU result on the 224×224 grid (checked
//!   from 2×2 to 14×14 inputs, square or not) and on most other shapes; PyTorch itself rounds
//!   some small outputs (48×48, 64×64) differently by an ulp here and there;
//! - bicubic is Keys' convolution with `A = −0.75`, reading four neighbours per axis with indices
//!   clamped into the image (`upsample_get_value_bounded`); values are not clamped, so bicubic
//!   can overshoot the input range, as in PyTorch. It agrees with PyTorch to ~1e-6, not to the
//!   bit (ATen's weight and summation order could not be pinned down).
//!
//! OpenCV ([`Interpolation::Cv2Linear`], `imgproc/src/resize.cpp`, generic path): the same
//! half-pixel mapping as PyTorch's `align_corners=False`, computed as
//! `fx = (float)((dx + 0.5)·scale − 0.5)` with `scale = 1/(out/in)` in double; `sx = floor(fx)`;
//! along x a source index below 0 or at/after the last column reads that edge column alone;
//! along y both rows are clamped into the image and keep their weights `1 − fy`, `fy`. Each pass
//! is `a·(1 − f) + b·f` in `f32`, x first. This matches OpenCV 5.1 bit for bit with
//! `cv2.ipp.setUseIPP(False)`; with Intel IPP on (the default of the pip wheels) OpenCV's own
//! result moves by a few ulps (≤ 7e-7 for maps in [0, 1) of 2–14 px upsampled to 224). The
//! values equal PyTorch's bilinear `align_corners=False` up to such rounding, so the LVS protocol
//! differs from the others by its threshold, not by its geometry.

use super::LocalizationError;

/// How a coarse map is resized to the evaluation grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Interpolation {
    /// PyTorch `mode='bilinear'` (EZ-VSL `test.py`, the default here).
    #[default]
    Bilinear,
    /// PyTorch `mode='bicubic'` (SLAVC `test.py`, EZ-VSL and SLAVC `train.py` validation).
    Bicubic,
    /// OpenCV `cv2.resize(..., interpolation=cv2.INTER_LINEAR)` (LVS `test.py`); always the
    /// half-pixel mapping, so `align_corners` must be false.
    Cv2Linear,
}

impl Interpolation {
    /// How the published code spells it.
    pub fn describe(self) -> &'static str {
        match self {
            Interpolation::Bilinear => "PyTorch bilinear",
            Interpolation::Bicubic => "PyTorch bicubic",
            Interpolation::Cv2Linear => "cv2.resize INTER_LINEAR",
        }
    }
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
        // `scale * (dst_index + 0.5) - 0.5`: the int64 index plus a double literal is a double.
        let src = (f64::from(scale) * (dst as f64 + 0.5) - 0.5) as f32;
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

/// OpenCV's taps along one axis: `(s0, s1, 1 − f, f)` for every output index (`resize()`'s
/// `xofs`/`alpha` and `yofs`/`beta` tables). `edge_copy` is the horizontal rule (an index outside
/// `[0, in − 1)` reads that edge alone, weight 1); without it (vertical) both rows are clamped.
fn cv2_axis(in_len: usize, out_len: usize, edge_copy: bool) -> Vec<(usize, usize, f32, f32)> {
    let scale = 1.0 / (out_len as f64 / in_len as f64);
    let last = in_len as i64 - 1;
    (0..out_len)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let s = f.floor() as i64;
            let f = f - s as f32;
            if edge_copy && (s < 0 || s >= last) {
                let s = s.clamp(0, last) as usize;
                (s, s, 1.0, 0.0)
            } else {
                (s.clamp(0, last) as usize, (s + 1).clamp(0, last) as usize, 1.0 - f, f)
            }
        })
        .collect()
}

/// Resizes a row-major `in_h × in_w` map to `out_h × out_w`.
///
/// `align_corners` is PyTorch's flag (true in EZ-VSL's and SLAVC's `test.py`); it must be false
/// with [`Interpolation::Cv2Linear`]. Fails when `map.len() != in_h·in_w` or a dimension is zero.
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
    if mode == Interpolation::Cv2Linear && align_corners {
        return Err(LocalizationError::Invalid(
            "cv2.resize has no align_corners: its INTER_LINEAR always maps pixel centres".into(),
        ));
    }
    let at = |y: usize, x: usize| map[y * in_w + x];
    let mut out = Vec::with_capacity(out_h * out_w);
    match mode {
        Interpolation::Cv2Linear => {
            let xs = cv2_axis(in_w, out_w, true);
            let ys = cv2_axis(in_h, out_h, false);
            let row = |y: usize| -> Vec<f32> {
                xs.iter().map(|&(x0, x1, a0, a1)| at(y, x0) * a0 + at(y, x1) * a1).collect()
            };
            let rows: Vec<Vec<f32>> = (0..in_h).map(row).collect();
            for &(y0, y1, b0, b1) in &ys {
                out.extend(rows[y0].iter().zip(&rows[y1]).map(|(&r0, &r1)| r0 * b0 + r1 * b1));
            }
        }
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
            // ATen's vectorised kernel: the first product of each pair is fused, the second
            // rounded (`fma(a, w0, b * w1)`), along x and then along y.
            for &(y0, y1, hy0, hy1) in &ys {
                for &(x0, x1, wx0, wx1) in &xs {
                    let r0 = at(y0, x0).mul_add(wx0, at(y0, x1) * wx1);
                    let r1 = at(y1, x0).mul_add(wx0, at(y1, x1) * wx1);
                    out.push(r0.mul_add(hy0, r1 * hy1));
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
        for mode in [Interpolation::Bilinear, Interpolation::Bicubic, Interpolation::Cv2Linear] {
            for ac in [false, true] {
                if mode == Interpolation::Cv2Linear && ac {
                    continue;
                }
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

    /// Order-independent checksum of every value's bits: equal only if every pixel is the same
    /// `f32` (what `scripts/protocol_reference.py`-style numpy code gets from
    /// `u.view(np.uint32).astype(np.uint64).sum()`).
    fn bit_sum(values: &[f32]) -> u64 {
        values.iter().map(|v| u64::from(v.to_bits())).sum()
    }

    /// The 3×3 "ramp" map of `scripts/protocol_reference.py`.
    const RAMP: [f32; 9] = [0.1, 0.5, 0.2, 0.4, 0.9, 0.3, 0.0, 0.6, 0.7];

    // Bit-level golden values from PyTorch 2.11 CPU and OpenCV 5.1 (cv2.ipp.setUseIPP(False)):
    //   u = F.interpolate(torch.from_numpy(RAMP)[None, None], size=(224, 224), mode=..., ...)
    //   u = cv2.resize(RAMP, dsize=(224, 224), interpolation=cv2.INTER_LINEAR)
    //   u.view(np.uint32).astype(np.uint64).sum(), u[i, j].view(np.uint32)
    #[test]
    fn bilinear_and_cv2_are_bit_identical_on_the_ramp() {
        let cases = [
            (
                Interpolation::Bilinear,
                false,
                51_368_140_547_127u64,
                [0x3dcccccd, 0x3dcccccd, 0x3eb5b25a, 0x3f333333],
            ),
            (
                Interpolation::Bilinear,
                true,
                52_978_973_941_772,
                [0x3dcccccd, 0x3e33537d, 0x3f0813fe, 0x3f2deb56],
            ),
            (
                Interpolation::Cv2Linear,
                false,
                51_368_140_578_367,
                [0x3dcccccd, 0x3dcccccd, 0x3eb5b25a, 0x3f333333],
            ),
        ];
        for (mode, ac, sum, pixels) in cases {
            let out = upsample(&RAMP, (3, 3), (224, 224), mode, ac).unwrap();
            assert_eq!(bit_sum(&out), sum, "{mode:?} align_corners={ac}");
            let got =
                [(0, 0), (5, 17), (100, 37), (223, 200)].map(|(y, x)| out[y * 224 + x].to_bits());
            assert_eq!(got, pixels, "{mode:?} align_corners={ac}");
        }
        // align_corners moves the values: pixel (5, 17) is 0.1 (still in the clamped corner)
        // with False and 0.1751 with True.
        let f = upsample(&RAMP, (3, 3), (224, 224), Interpolation::Bilinear, false).unwrap();
        let t = upsample(&RAMP, (3, 3), (224, 224), Interpolation::Bilinear, true).unwrap();
        assert_eq!(f[5 * 224 + 17], 0.1);
        assert!((t[5 * 224 + 17] - 0.175_123_17).abs() < 1e-7);
    }

    // x[i, j] = ((9i + j)² mod 13) / 13 on 5×9 (float32), to 224×224, 100×64 and 40×224: the
    // checksums of PyTorch 2.11 CPU and of OpenCV 5.1 without IPP. (PyTorch's own CPU kernel
    // rounds some small outputs differently, e.g. 64×64 or 40×64, by one ulp here and there: its
    // vectorised and scalar paths disagree; 224-wide grids are always the vectorised one.)
    #[test]
    fn non_square_maps_are_bit_identical() {
        let map: Vec<f32> = (0..5)
            .flat_map(|i| (0..9).map(move |j| (((i * 9 + j) * (i * 9 + j)) % 13) as f32 / 13.0))
            .collect();
        let cases = [
            ((224, 224), Interpolation::Bilinear, false, 52_520_957_198_740u64),
            ((224, 224), Interpolation::Bilinear, true, 52_858_019_165_254),
            ((224, 224), Interpolation::Cv2Linear, false, 52_520_957_199_606),
            ((100, 64), Interpolation::Bilinear, false, 6_693_062_449_845),
            ((100, 64), Interpolation::Bilinear, true, 6_740_654_466_768),
            ((100, 64), Interpolation::Cv2Linear, false, 6_693_062_450_541),
            ((40, 224), Interpolation::Bilinear, false, 9_378_307_757_256),
            ((40, 224), Interpolation::Bilinear, true, 9_437_147_988_027),
            ((40, 224), Interpolation::Cv2Linear, false, 9_378_307_756_838),
        ];
        for (size, mode, ac, sum) in cases {
            let out = upsample(&map, (5, 9), size, mode, ac).unwrap();
            assert_eq!(bit_sum(&out), sum, "{size:?} {mode:?} align_corners={ac}");
        }
    }

    #[test]
    fn cv2_has_no_align_corners_and_same_size_is_a_copy() {
        assert!(upsample(&RAMP, (3, 3), (224, 224), Interpolation::Cv2Linear, true).is_err());
        for mode in [Interpolation::Bilinear, Interpolation::Bicubic, Interpolation::Cv2Linear] {
            for ac in [false, true] {
                if mode == Interpolation::Cv2Linear && ac {
                    continue;
                }
                assert_eq!(upsample(&RAMP, (3, 3), (3, 3), mode, ac).unwrap(), RAMP, "{mode:?}");
            }
        }
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(upsample(&[1.0; 5], (2, 3), (4, 4), Interpolation::Bilinear, false).is_err());
        assert!(upsample(&[], (0, 0), (4, 4), Interpolation::Bicubic, false).is_err());
    }
}
