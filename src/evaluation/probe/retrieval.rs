//! Retrieval with class labels as relevance, as AVE-Net (Arandjelović & Zisserman 2018) reports
//! it: every query ranks the gallery by cosine similarity; an item is relevant when it has the
//! query's class. R@K is the share of queries with a relevant item among the first K; nDCG@K is
//! `DCG / IDCG` with `DCG = Σ_{i ≤ K} rel_i / log2(i + 1)` (binary relevance, ranks from 1) and
//! IDCG the DCG of the ideal ranking (all relevant items first, at most K of them). Within a
//! modality the query itself is left out of its gallery; across modalities (image → audio) the
//! gallery holds every clip, the query's own sound included.

use serde::{Deserialize, Serialize};

/// Retrieval scores over a set of queries.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RetrievalScores {
    /// R@1.
    pub r1: f64,
    /// R@5.
    pub r5: f64,
    /// R@10.
    pub r10: f64,
    /// nDCG@30.
    pub ndcg30: f64,
    /// Queries scored (those with at least one relevant item in the gallery).
    pub queries: usize,
}

/// Scores a `[Q, G]` row-major similarity matrix; `exclude_self` leaves gallery item `q` out of
/// query `q`'s ranking (within-modal retrieval over one set). Queries without any relevant item
/// are not counted.
pub fn retrieval(
    sims: &[f32],
    queries: &[i64],
    gallery: &[i64],
    exclude_self: bool,
) -> RetrievalScores {
    let g = gallery.len();
    let (mut hits, mut ndcg, mut n) = ([0usize; 3], 0.0f64, 0usize);
    for (q, &ql) in queries.iter().enumerate() {
        let Some(row) = sims.get(q * g..(q + 1) * g) else { break };
        let mut order: Vec<usize> = (0..g).filter(|&j| !(exclude_self && j == q)).collect();
        // Ties keep gallery order (a stable sort): deterministic.
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let rel: Vec<bool> = order.iter().map(|&j| gallery[j] == ql).collect();
        let relevant = rel.iter().filter(|&&r| r).count();
        if relevant == 0 {
            continue;
        }
        n += 1;
        for (h, k) in hits.iter_mut().zip([1usize, 5, 10]) {
            if rel.iter().take(k).any(|&r| r) {
                *h += 1;
            }
        }
        let disc = |i: usize| 1.0 / ((i + 2) as f64).log2();
        let dcg: f64 =
            rel.iter().take(30).enumerate().filter(|(_, &r)| r).map(|(i, _)| disc(i)).sum();
        let idcg: f64 = (0..relevant.min(30)).map(disc).sum();
        ndcg += dcg / idcg;
    }
    let d = n.max(1) as f64;
    RetrievalScores {
        r1: hits[0] as f64 / d,
        r5: hits[1] as f64 / d,
        r10: hits[2] as f64 / d,
        ndcg30: ndcg / d,
        queries: n,
    }
}

/// Row-major cosine similarities `[Q, G]` of `[Q, D]` queries against `[G, D]` gallery rows.
pub fn cosine_matrix(q: &[f32], g: &[f32], dim: usize) -> Vec<f32> {
    let norm = |v: &[f32]| {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter().map(|x| x / n).collect::<Vec<f32>>()
    };
    let qs: Vec<Vec<f32>> = q.chunks_exact(dim).map(norm).collect();
    let gs: Vec<Vec<f32>> = g.chunks_exact(dim).map(norm).collect();
    let mut out = Vec::with_capacity(qs.len() * gs.len());
    for a in &qs {
        for b in &gs {
            out.push(a.iter().zip(b).map(|(x, y)| x * y).sum());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_ranking() {
        // One query of class 1 against 4 items ranked (by similarity) 0.9:c0, 0.8:c1, 0.7:c0,
        // 0.1:c1. R@1 = 0, R@5 = 1; DCG = 1/log2(3) + 1/log2(5) = 0.63093 + 0.43068 = 1.06161;
        // IDCG = 1 + 1/log2(3) = 1.63093; nDCG = 0.65093.
        let sims = [0.7, 0.1, 0.9, 0.8];
        let gallery = [0, 1, 0, 1];
        let s = retrieval(&sims, &[1], &gallery, false);
        assert_eq!((s.r1, s.r5, s.r10, s.queries), (0.0, 1.0, 1.0, 1));
        assert!((s.ndcg30 - 0.650_93).abs() < 1e-4, "{}", s.ndcg30);
    }

    #[test]
    fn within_modal_leaves_the_query_out() {
        // Three items, classes 0, 0, 1; similarity = identity plus small off-diagonals.
        let sims = [1.0, 0.2, 0.5, 0.2, 1.0, 0.1, 0.5, 0.1, 1.0];
        let labels = [0, 0, 1];
        let s = retrieval(&sims, &labels, &labels, true);
        // Query 0: ranks 2 (c1, 0.5) then 1 (c0): R@1 miss, nDCG = (1/log2 3)/1 = 0.63093.
        // Query 1: ranks 0 (c0) first: hit, nDCG 1. Query 2: no other c1 item: not counted.
        assert_eq!(s.queries, 2);
        assert!((s.r1 - 0.5).abs() < 1e-12);
        assert!((s.ndcg30 - (0.630_93 + 1.0) / 2.0).abs() < 1e-4, "{}", s.ndcg30);
        let perfect = retrieval(&sims, &labels, &labels, false);
        assert_eq!(perfect.r1, 1.0, "with itself in the gallery every query finds itself");
    }

    #[test]
    fn cosines() {
        let m = cosine_matrix(&[1.0, 0.0, 0.0, 2.0], &[3.0, 0.0, 1.0, 1.0], 2);
        assert!((m[0] - 1.0).abs() < 1e-6 && (m[2]).abs() < 1e-6);
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert!((m[1] - half).abs() < 1e-6 && (m[3] - half).abs() < 1e-6);
    }
}
