//! The centre-prior baseline (AVOL-Net's "centre baseline"): a score map that only says "the
//! source is in the middle". It is an isotropic Gaussian centred on the grid; after median
//! binarisation only its ordering matters, so it predicts the central disc covering half the
//! image. Its confidence is the same for every sample, so its AP says nothing about silence.

/// A `size × size` centred Gaussian (σ = size/4), row-major.
pub fn centre_prior(size: usize) -> Vec<f32> {
    let c = (size as f64 - 1.0) / 2.0;
    let sigma = (size as f64 / 4.0).max(1e-6);
    (0..size * size)
        .map(|i| {
            let (y, x) = ((i / size) as f64, (i % size) as f64);
            (-((y - c).powi(2) + (x - c).powi(2)) / (2.0 * sigma * sigma)).exp() as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::binarize_at_median;
    use super::*;

    #[test]
    fn peaks_in_the_centre_and_covers_half() {
        let size = 224;
        let m = centre_prior(size);
        assert!(m[112 * size + 112] > m[0]);
        let fg = binarize_at_median(&m).iter().filter(|&&b| b).count();
        // About half the pixels (ties on the symmetric rings may add a few).
        assert!((fg as f64 / (size * size) as f64 - 0.5).abs() < 0.01, "{fg}");
    }
}
