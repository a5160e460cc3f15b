//! A synthetic audio-visual world with ground truth: objects of known classes that look and
//! sound distinct, move, and pulse on their sound onsets; written as real media files with
//! `annotations.jsonl`, so demos, tests and learning benchmarks run without downloading data.

mod annotations;

pub use annotations::{read_annotations, ClipAnnotation, ObjectAnnotation};
