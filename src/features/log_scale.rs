//! Amplitude compression and normalisation: `ln(x + eps)`, `10·log10(max(x, amin))` with an
//! optional per-example `top_db` floor, and an affine map `(y − mean) / std`.
//!
//! `top_db` is applied per example: the floor is `max − top_db` over the whole `[freq, time]`
//! spectrogram of one waveform, which is what `librosa.power_to_db` does on a single example.
//! (torchaudio's `AmplitudeToDB` takes the max over whatever tensor it is given, so its result
//! depends on how the batch is shaped; a batch entry point here never mixes examples.)
//! The floors keep silence finite: `ln(0 + eps)` and `10·log10(amin)` instead of `-inf`.

use super::FeatureError;

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
            LogScale::Ln { eps } if !(eps > 0.0 && eps.is_finite()) => {
                bad(format!("log eps must be positive and finite, got {eps}"))
            }
            LogScale::Db { amin, .. } if !(amin > 0.0 && amin.is_finite()) => {
                bad(format!("dB amin must be positive and finite, got {amin}"))
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

    /// The per-example dynamic range, if any.
    pub fn top_db(&self) -> Option<f64> {
        match *self {
            LogScale::Db { top_db, .. } => top_db,
            _ => None,
        }
    }
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
}

/// Applies `top_db` (when given) and the affine map in place to one example's log values.
pub fn finish_example(values: &mut [f32], top_db: Option<f64>, affine: &Affine) {
    let floor = top_db.map(|t| {
        let peak = values.iter().fold(f64::NEG_INFINITY, |m, v| m.max(f64::from(*v)));
        peak - t
    });
    if floor.is_none() && affine.is_identity() {
        return;
    }
    for v in values.iter_mut() {
        let mut y = f64::from(*v);
        if let Some(f) = floor {
            y = y.max(f);
        }
        *v = affine.apply(y) as f32;
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
    fn validation_rejects_non_positive_floors() {
        assert!(LogScale::Ln { eps: 0.0 }.validate().is_err());
        assert!(LogScale::Db { amin: -1.0, top_db: None }.validate().is_err());
        assert!(LogScale::Db { amin: 1e-10, top_db: Some(-3.0) }.validate().is_err());
        assert!(LogScale::Db { amin: 1e-10, top_db: Some(80.0) }.validate().is_ok());
        assert!(Affine { mean: 0.0, std: 0.0 }.validate().is_err());
    }
}
