//! Weighted k-nearest-neighbour classification of frozen features, as solo-learn's
//! `WeightedKNNClassifier` does it: features L2-normalised, cosine similarity to every bank
//! (training) row, the `k` most similar vote for their class with weight `exp(sim / T)`; the
//! classes are ranked by their summed weights (defaults k = 20, T = 0.07, from InstDisc).

use tch::{Device, Kind, Tensor};

use super::LayerMatrix;
use crate::evaluation::Result;

/// Neighbours that vote.
pub const KNN_K: i64 = 20;
/// Temperature of the vote weights.
pub const KNN_T: f64 = 0.07;

fn normalised(m: &LayerMatrix, device: Device) -> Result<Tensor> {
    let t = Tensor::from_slice(&m.data).f_view([m.rows as i64, m.dim as i64])?.f_to(device)?;
    let n = t.f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?.f_clamp_min(1e-12)?;
    Ok(t.f_div(&n)?)
}

/// `[Q, classes]` class scores of each query row.
pub fn knn_scores(
    bank: &LayerMatrix,
    bank_labels: &[i64],
    query: &LayerMatrix,
    classes: usize,
    k: i64,
    temperature: f64,
    device: Device,
) -> Result<Tensor> {
    let _g = tch::no_grad_guard();
    let b = normalised(bank, device)?;
    let q = normalised(query, device)?;
    let sims = q.f_matmul(&b.f_transpose(0, 1)?)?;
    let k = k.min(bank.rows as i64).max(1);
    let (top, idx) = sims.f_topk(k, 1, true, true)?;
    let labels = Tensor::from_slice(bank_labels).f_to(device)?;
    let nl = labels.f_index_select(0, &idx.f_flatten(0, -1)?)?.f_view([query.rows as i64, k])?;
    let w = top.f_div_scalar(temperature)?.f_exp()?;
    let scores = Tensor::zeros([query.rows as i64, classes as i64], (Kind::Float, device));
    Ok(scores.f_scatter_add(1, &nl, &w)?)
}

/// Top-`k` accuracy of `[N, C]` scores against labels.
pub fn top_k_accuracy(scores: &Tensor, labels: &[i64], k: i64) -> Result<f64> {
    let k = k.min(scores.size()[1]).max(1);
    let (_, idx) = scores.f_topk(k, 1, true, true)?;
    let t = Tensor::from_slice(labels).f_to(scores.device())?.f_unsqueeze(1)?;
    let hit = idx.f_eq_tensor(&t)?.f_any_dim(1, false)?.f_to_kind(Kind::Float)?;
    Ok(hit.f_mean(Kind::Float)?.f_double_value(&[])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rows_vote_for_their_class() {
        // Bank: class 0 along x, class 1 along y. Queries near x and near y.
        let bank =
            LayerMatrix { rows: 4, dim: 2, data: vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9] };
        let q = LayerMatrix { rows: 2, dim: 2, data: vec![5.0, 0.5, 0.2, 3.0] };
        let s = knn_scores(&bank, &[0, 0, 1, 1], &q, 2, 2, KNN_T, Device::Cpu).unwrap();
        assert_eq!(top_k_accuracy(&s, &[0, 1], 1).unwrap(), 1.0);
        assert_eq!(top_k_accuracy(&s, &[1, 0], 1).unwrap(), 0.0);
        assert_eq!(top_k_accuracy(&s, &[1, 0], 2).unwrap(), 1.0);
        // Weights: exp(cos / T) summed per class.
        let v = Vec::<f32>::try_from(s.f_flatten(0, -1).unwrap()).unwrap();
        let c = |a: [f32; 2], b: [f32; 2]| {
            (a[0] * b[0] + a[1] * b[1])
                / ((a[0] * a[0] + a[1] * a[1]).sqrt() * (b[0] * b[0] + b[1] * b[1]).sqrt())
        };
        let want = (c([5.0, 0.5], [1.0, 0.0]) as f64 / KNN_T).exp()
            + (c([5.0, 0.5], [0.9, 0.1]) as f64 / KNN_T).exp();
        assert!((v[0] as f64 / want - 1.0).abs() < 1e-4, "{} vs {want}", v[0]);
        assert_eq!(v[1], 0.0, "no class-1 row among query 0's two neighbours");
    }
}
