//! Evaluation: audio-visual correspondence accuracy and ROC AUC, and the sound-source
//! localisation metrics (cIoU, AUC, pointing game, AP/max-F1) exactly as published.

pub mod localization;
