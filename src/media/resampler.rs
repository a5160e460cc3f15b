//! A band-limited resampler: windowed-sinc interpolation evaluated at arbitrary output times.
//!
//! Output sample `k` of a window starting at `t` is the band-limited input signal evaluated at
//! time `t + k / out_rate`, so windows land exactly on the container clock wherever they start
//! (no hidden filter delay, no state between windows). The kernel is a Kaiser-windowed sinc
//! (β = 9, like FFmpeg's swresample default), cut off at 0.97 × the lower Nyquist frequency,
//! with 16 zero crossings on each side; it is tabulated at 512 points per zero crossing and read
//! with linear interpolation. When the rates are equal the cut-off is the full band, so aligned
//! windows are copied exactly. Samples outside the input are zero.

/// Zero crossings of the sinc on each side of the centre.
const ZERO_CROSSINGS: usize = 16;
/// Table points per zero crossing.
const TABLE_RESOLUTION: usize = 512;
/// Kaiser window β.
const KAISER_BETA: f64 = 9.0;
/// Cut-off as a fraction of the lower Nyquist frequency when resampling.
const CUTOFF: f64 = 0.97;

/// Resamples from one fixed rate to another; cheap to clone, stateless between calls.
#[derive(Debug, Clone)]
pub struct Resampler {
    in_rate: u32,
    out_rate: u32,
    /// Kernel bandwidth in cycles per input sample × 2 (1.0 = full band).
    band: f64,
    /// Kernel half-width in input samples.
    half_width: f64,
    /// Kernel values at `x = i / (band · TABLE_RESOLUTION)` input samples, `i = 0..`.
    table: Vec<f32>,
}

fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` (both in Hz, non-zero).
    pub fn new(in_rate: u32, out_rate: u32) -> Self {
        let band = if in_rate == out_rate {
            1.0
        } else {
            CUTOFF * (f64::from(out_rate) / f64::from(in_rate)).min(1.0)
        };
        let half_width = ZERO_CROSSINGS as f64 / band;
        let n = ZERO_CROSSINGS * TABLE_RESOLUTION + 2;
        let i0_beta = bessel_i0(KAISER_BETA);
        let table = (0..n)
            .map(|i| {
                // u: position in zero crossings (units of 1/band input samples).
                let u = i as f64 / TABLE_RESOLUTION as f64;
                if u >= ZERO_CROSSINGS as f64 {
                    return 0.0;
                }
                let sinc = if u == 0.0 {
                    1.0
                } else {
                    (std::f64::consts::PI * u).sin() / (std::f64::consts::PI * u)
                };
                let r = u / ZERO_CROSSINGS as f64;
                let window = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
                (band * sinc * window) as f32
            })
            .collect();
        Resampler { in_rate, out_rate, band, half_width, table }
    }

    /// Input rate in Hz.
    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    /// Output rate in Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    /// How far (seconds) the kernel reaches on each side: input needed around a window.
    pub fn support_seconds(&self) -> f64 {
        (self.half_width + 1.0) / f64::from(self.in_rate)
    }

    #[inline]
    fn kernel(&self, x: f64) -> f32 {
        let pos = x.abs() * self.band * TABLE_RESOLUTION as f64;
        let i = pos as usize;
        if i + 1 >= self.table.len() {
            return 0.0;
        }
        let frac = (pos - i as f64) as f32;
        self.table[i] + (self.table[i + 1] - self.table[i]) * frac
    }

    /// Writes `n` output samples into `out`: the signal `input` (first sample at time `input_t0`
    /// seconds, at the input rate) evaluated at `start + k / out_rate`. Mono input.
    pub fn resample(&self, input: &[f32], input_t0: f64, start: f64, n: usize, out: &mut Vec<f32>) {
        out.clear();
        out.reserve(n);
        let in_rate = f64::from(self.in_rate);
        let step = in_rate / f64::from(self.out_rate);
        let offset = (start - input_t0) * in_rate;
        let len = input.len() as i64;
        for k in 0..n {
            // Position of the output sample in input-sample units.
            let p = offset + k as f64 * step;
            let nearest = p.round();
            if self.band == 1.0 && (p - nearest).abs() < 1e-6 {
                let i = nearest as i64;
                out.push(if (0..len).contains(&i) { input[i as usize] } else { 0.0 });
                continue;
            }
            let lo = ((p - self.half_width).ceil() as i64).max(0);
            let hi = ((p + self.half_width).floor() as i64).min(len - 1);
            let mut acc = 0.0f32;
            let mut i = lo;
            while i <= hi {
                acc += input[i as usize] * self.kernel(i as f64 - p);
                i += 1;
            }
            out.push(acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, f: f64, n: usize, t0: f64) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = t0 + i as f64 / f64::from(rate);
                (2.0 * std::f64::consts::PI * f * t).sin() as f32 * 0.5
            })
            .collect()
    }

    #[test]
    fn same_rate_aligned_is_a_copy() {
        let r = Resampler::new(16_000, 16_000);
        let x = sine(16_000, 440.0, 1000, 0.0);
        let mut out = Vec::new();
        r.resample(&x, 0.0, 100.0 / 16_000.0, 500, &mut out);
        assert_eq!(&out[..], &x[100..600]);
    }

    #[test]
    fn downsampling_a_sine_matches_the_analytic_signal() {
        for (a, b) in [(44_100, 16_000), (48_000, 16_000), (8_000, 16_000), (22_050, 44_100)] {
            let r = Resampler::new(a, b);
            let x = sine(a, 440.0, a as usize, 0.0);
            let mut out = Vec::new();
            // A window in the middle, starting off the output grid.
            let start = 0.3 + 0.37 / f64::from(b);
            r.resample(&x, 0.0, start, b as usize / 4, &mut out);
            let want = sine(b, 440.0, out.len(), start);
            let err = out.iter().zip(&want).map(|(o, w)| (o - w).abs()).fold(0.0, f32::max);
            assert!(err < 2e-3, "{a}->{b}: max error {err}");
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_are_removed() {
        let r = Resampler::new(48_000, 16_000);
        let x = sine(48_000, 12_000.0, 48_000, 0.0);
        let mut out = Vec::new();
        r.resample(&x, 0.0, 0.25, 8_000, &mut out);
        let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak < 1e-3, "aliasing: peak {peak}");
    }

    #[test]
    fn outside_the_input_is_zero() {
        let r = Resampler::new(44_100, 16_000);
        let x = vec![0.5f32; 441];
        let mut out = Vec::new();
        r.resample(&x, 1.0, 0.0, 100, &mut out);
        assert!(out.iter().all(|v| *v == 0.0));
    }
}
