//! How good are a trunk's frozen features: per-layer linear probes, weighted kNN and retrieval
//! on a labelled split, both modalities (issue #23). Features come from one pass through the
//! input path validation uses and are cached on disk ([`FeatureCache`]); probes, kNN and
//! retrieval then run on the cached matrices, one layer at a time.

mod comparison;
mod features_cache;
pub mod knn;
pub mod labels;
pub mod linear_probe;
pub mod report;
pub mod retrieval;
mod supervised;
mod view;

pub use comparison::{comparison_markdown, comparison_rows, plot_comparison, ComparisonRow};
pub use features_cache::{
    clip_times, content_hash, layer_grid, trunk_layers, CachedSplit, ExtractStats, Extraction,
    FeatureCache, FeatureRow, LayerInfo, LayerMatrix, ProbeClip, SplitManifest, TARGET_DIM,
};
pub use knn::{knn_scores, top_k_accuracy, KNN_K, KNN_T};
pub use labels::{LabelError, LabelSet, LabelSource, LabelledClip, SynthLabel};
pub use linear_probe::{LinearProbe, ProbeConfig};
pub use report::{
    probe_layers, report_markdown, Accuracy, LabelledSplit, LayerReport, ProbeReport,
};
pub use retrieval::{cosine_matrix, retrieval, RetrievalScores};
pub use supervised::{train_supervised, SupervisedConfig, SupervisedStats, SupervisedTrunk};
pub use view::ProbeView;
