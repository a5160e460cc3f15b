//! Evaluation: audio-visual correspondence accuracy and ROC AUC, and the sound-source
//! localisation metrics (cIoU, AUC, pointing game, AP/max-F1) exactly as published.

pub mod avc;
pub mod localization;

pub use avc::{avc_report, roc_auc, AvcReport, KindCount};
