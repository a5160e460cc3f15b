//! Amplitude compression and normalisation: `ln(x + eps)`, `10·log10(max(x, amin))` with an
//! optional per-example `top_db` floor, and an affine map `(y − mean) / std`.
//!
//! `top_db` is applied per example: the floor is `max − top_db` over the whole `[freq, time]`
//! spectrogram of one waveform, which is what `librosa.power_to_db` does on a single example.
//! (torchaudio's `AmplitudeToDB` takes the max over whatever tensor it is given, so its result
//! depends on how the batch is shaped; a batch entry point here never mixes examples.)
//! The floors keep silence finite: `ln(0 + eps)` and `10·log10(amin)` instead of `-inf`.
//!
//! Logs are taken a frame at a time over an f32 slice ([`LogScale::apply_in_place`]) with
//! [`ln_f32`], fdlibm's `logf` written branch-free so the compiler vectorises it (four lanes
//! even on baseline x86-64): within 1 ulp of `f32::ln`, several times faster than calling libm
//! per value. Its domain (positive normal numbers) is guaranteed by the floors, which
//! validation requires to be normal f32 numbers.

use super::FeatureError;

/// Smallest allowed `eps`/`amin`: the smallest normal f32 (the log runs in f32).
const MIN_FLOOR: f64 = f32::MIN_POSITIVE as f64;

/// The log applied to each filterbank or spectrum value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum LogScale {
    /// No log: values as they come from the filterbank.
    None,
    /// Natural log with an offset: `ln(x + eps)` (VGGish: 0.01; LVS: 1e-7).
    Ln {
        /// Offset added before the log; must be > 0.
        eps: f64,
    },
    /// Decibels: `10·log10(max(x, amin))` (reference 1.0), then optionally
    /// `max(y, max(y) − top_db)` over the example (librosa's `power_to_db`).
    Db {
        /// Floor applied before the log; must be > 0 (librosa: 1e-10).
        amin: f64,
        /// Dynamic range kept below the example's peak, in dB (librosa: 80).
        top_db: Option<f64>,
    },
}

impl LogScale {
    /// Checks the floors and ranges.
    pub fn validate(&self) -> Result<(), FeatureError> {
        let bad = |m: String| Err(FeatureError::InvalidParameter(m));
        match *self {
            LogScale::None => Ok(()),
            LogScale::Ln { eps } if !(eps >= MIN_FLOOR && eps.is_finite()) => {
                bad(format!("log eps must be a positive normal f32 (≥ 1.2e-38), got {eps}"))
            }
            LogScale::Db { amin, .. } if !(amin >= MIN_FLOOR && amin.is_finite()) => {
                bad(format!("dB amin must be a positive normal f32 (≥ 1.2e-38), got {amin}"))
            }
            LogScale::Db { top_db: Some(t), .. } if !(t >= 0.0 && t.is_finite()) => {
                bad(format!("top_db must be non-negative and finite, got {t}"))
            }
            _ => Ok(()),
        }
    }

    /// The log of one value (before any `top_db` floor).
    #[inline]
    pub fn apply(&self, x: f64) -> f64 {
        match *self {
            LogScale::None => x,
            LogScale::Ln { eps } => (x + eps).ln(),
            LogScale::Db { amin, .. } => 10.0 * x.max(amin).log10(),
        }
    }

    /// The log of every value in place, as [`LogScale::apply`] but in f32 and vectorised, then
    /// `affine` (pass the identity for none): one pass instead of two when no `top_db` has to
    /// wait for the example's peak. Values must be finite and ≥ 0.
    #[inline(always)]
    pub fn apply_in_place(&self, values: &mut [f32], affine: &Affine) {
        if affine.is_identity() {
            self.map_in_place(values, |y| y);
        } else {
            let (mean, scale) = affine.f32_parts();
            self.map_in_place(values, |y| (y - mean) * scale);
        }
    }

    #[inline(always)]
    fn map_in_place(&self, values: &mut [f32], then: impl Fn(f32) -> f32) {
        match *self {
            LogScale::None => values.iter_mut().for_each(|v| *v = then(*v)),
            LogScale::Ln { eps } => {
                let eps = eps as f32;
                values.iter_mut().for_each(|v| *v = then(ln_f32(*v + eps)));
            }
            LogScale::Db { amin, .. } => {
                const DB_PER_NEPER: f32 = 10.0 / std::f32::consts::LN_10;
                let amin = amin as f32;
                values.iter_mut().for_each(|v| *v = then(DB_PER_NEPER * ln_f32(v.max(amin))));
            }
        }
    }

    /// The per-example dynamic range, if any.
    pub fn top_db(&self) -> Option<f64> {
        match *self {
            LogScale::Db { top_db, .. } => top_db,
            _ => None,
        }
    }
}

/// Natural log of a positive, normal, finite `x` (Cephes `logf`, branch-free, no division).
///
/// `x = 2^k·m` with `m` in `[√½, √2)`; `ln m = f − f²/2 + f³·P(f)` with `f = m − 1` and Cephes'
/// degree-8 minimax `P` in Horner form on fused multiply-adds; `k·ln 2` is added in two parts.
/// Within 0.7 ulp of the true log over the normal range (tested). `mul_add` is one
/// instruction in the AVX2/AVX-512 copies of the frame loop and a correctly rounded library
/// call elsewhere, so every path gives the same bits. Outside the domain (zero, subnormals,
/// infinities, NaN) the result is meaningless; callers floor their input.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    // Cephes' coefficients (7.0376836292e-2, ..., 3.3333331174e-1), highest degree first, and
    // ln 2 in two parts (0.693359375 and -2.12194440e-4), as f32 bit patterns.
    const P: [u32; 9] = [
        0x3d90_21bb,
        0xbdeb_d1b8,
        0x3def_251a,
        0xbdfe_5d4f,
        0x3e11_e9bf,
        0xbe2a_ae50,
        0x3e4c_ceac,
        0xbe7f_fffc,
        0x3eaa_aaaa,
    ];
    const LN2_HI: f32 = f32::from_bits(0x3f31_8000);
    const LN2_LO: f32 = f32::from_bits(0xb95e_8083);
    // Shift the bits so that mantissas above √2 carry into the exponent.
    let ix = x.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = ((ix >> 23) as i32 - 0x7f) as f32;
    let f = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3) - 1.0;
    let z = f * f;
    let p = P[1..].iter().fold(f32::from_bits(P[0]), |p, c| p.mul_add(f, f32::from_bits(*c)));
    let y = (f * z).mul_add(p, k.mul_add(LN2_LO, -0.5 * z));
    (f + y) + k * LN2_HI
}

/// An affine normalisation `(y − mean) / std` applied after the log (LVS: std 12).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Affine {
    /// Subtracted first.
    pub mean: f64,
    /// Divided by second; must be non-zero.
    pub std: f64,
}

impl Default for Affine {
    /// The identity.
    fn default() -> Self {
        Affine { mean: 0.0, std: 1.0 }
    }
}

impl Affine {
    /// Checks that `std` is finite and non-zero and `mean` finite.
    pub fn validate(&self) -> Result<(), FeatureError> {
        if !(self.mean.is_finite() && self.std.is_finite() && self.std != 0.0) {
            return Err(FeatureError::InvalidParameter(format!(
                "normalisation needs a finite mean and a finite non-zero std, got {}/{}",
                self.mean, self.std
            )));
        }
        Ok(())
    }

    /// Whether this is the identity (so it can be skipped).
    pub fn is_identity(&self) -> bool {
        self.mean == 0.0 && self.std == 1.0
    }

    /// `(y − mean) / std`.
    #[inline]
    pub fn apply(&self, y: f64) -> f64 {
        (y - self.mean) / self.std
    }

    /// `mean` and `1/std` in f32 for the vectorised passes, which compute `(y − mean)·(1/std)`:
    /// a multiply instead of a division (whose zmm form is several times slower), within one
    /// f32 rounding of [`Affine::apply`].
    #[inline]
    fn f32_parts(&self) -> (f32, f32) {
        (self.mean as f32, (1.0 / self.std) as f32)
    }
}

/// Applies `top_db` (when given) and the affine map in place to one example's log values.
///
/// In f32 (the values are f32 already): the peak is exact, `max` is exact, and the affine map
/// costs one rounding of the subtraction and one of the multiplication by `1/std`.
#[inline(always)]
pub fn finish_example(values: &mut [f32], top_db: Option<f64>, affine: &Affine) {
    if top_db.is_none() && affine.is_identity() {
        return;
    }
    let floor = match top_db {
        Some(t) => {
            let peak = values.iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
            (f64::from(peak) - t) as f32
        }
        None => f32::NEG_INFINITY,
    };
    let (mean, scale) = affine.f32_parts();
    for v in values.iter_mut() {
        *v = (v.max(floor) - mean) * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_keep_silence_finite() {
        assert_eq!(LogScale::Ln { eps: 0.01 }.apply(0.0), 0.01f64.ln());
        let db = LogScale::Db { amin: 1e-10, top_db: None };
        assert!((db.apply(0.0) + 100.0).abs() < 1e-12);
        assert!((db.apply(1e-12) + 100.0).abs() < 1e-12, "values under amin clamp to amin");
        assert!((db.apply(100.0) - 20.0).abs() < 1e-12);
    }

    #[test]
    fn top_db_floors_relative_to_the_example_peak() {
        let mut v = vec![10.0f32, -50.0, -100.0, 0.0];
        finish_example(&mut v, Some(80.0), &Affine::default());
        assert_eq!(v, vec![10.0, -50.0, -70.0, 0.0]);
        let mut v = vec![-12.0f32, 24.0];
        finish_example(&mut v, None, &Affine { mean: 0.0, std: 12.0 });
        assert_eq!(v, vec![-1.0, 2.0]);
    }

    #[test]
    fn fast_ln_is_within_one_ulp_of_std() {
        let mut worst = 0.0f64;
        // Every 97th f32 bit pattern across the normal range.
        let mut bits = f32::MIN_POSITIVE.to_bits();
        while bits < f32::MAX.to_bits() {
            let x = f32::from_bits(bits);
            let want = f64::from(x).ln();
            let ulp = f64::from(f32::EPSILON) * want.abs().max(1e-30);
            let err = (f64::from(ln_f32(x)) - want).abs();
            worst = worst.max(if want == 0.0 { err / 1e-45 } else { err / ulp });
            bits += 97;
        }
        assert!(worst <= 1.0, "worst error {worst} ulp");
        assert_eq!(ln_f32(1.0), 0.0);
        let db = LogScale::Db { amin: 1e-10, top_db: None };
        let mut out = [0.0f32, 1.0, 1e3];
        db.apply_in_place(&mut out, &Affine::default());
        for (o, w) in out.iter().zip([-100.0f32, 0.0, 30.0]) {
            assert!((o - w).abs() < 1e-5, "{o} vs {w}");
        }
    }

    #[test]
    fn validation_rejects_non_positive_floors() {
        assert!(LogScale::Ln { eps: 0.0 }.validate().is_err());
        assert!(LogScale::Db { amin: -1.0, top_db: None }.validate().is_err());
        assert!(LogScale::Db { amin: 1e-10, top_db: Some(-3.0) }.validate().is_err());
        assert!(LogScale::Db { amin: 1e-10, top_db: Some(80.0) }.validate().is_ok());
        assert!(Affine { mean: 0.0, std: 0.0 }.validate().is_err());
        assert!(LogScale::Ln { eps: 1e-40 }.validate().is_err(), "subnormal f32 floors");
    }
}
