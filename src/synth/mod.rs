//! A synthetic audio-visual world with ground truth: objects of known classes that look and
//! sound distinct, move, and pulse on their sound onsets; written as real media files with
//! `annotations.jsonl`, so demos, tests and learning benchmarks run without downloading data.
//!
//! Flow: [`SynthConfig`] → per clip a [`ClipPlan`] (all random draws, from the ChaCha stream
//! `(seed, clip)`) → pictures (`render`) and sound (`sound`) → [`crate::media::MediaEncoder`] →
//! [`ClipAnnotation`] lines. [`generate`] runs clips in parallel; output is independent of the
//! thread count. `docs/synthetic-world.md` describes the classes and options.

mod annotations;
mod classes;
mod config;
mod contact_sheet;
mod error;
mod generate;
mod plan;
mod readme;
mod render;
mod sound;

pub use annotations::{read_annotations, ClipAnnotation, ObjectAnnotation};
pub use classes::{hsv_to_rgb, ClassSpec, Shape, SoundKind, Texture, CLASSES};
pub use config::{SplitRatios, SynthConfig};
pub use contact_sheet::contact_sheet;
pub use error::SynthError;
pub use generate::{assign_splits, clip_audio, generate, make_clip};
pub use plan::{ClipPlan, ObjectPlan, OffscreenPlan, PULSE_GAIN, PULSE_TAU, SHAKE};
pub use readme::world_readme;
pub use render::{render_frame, Background};
pub use sound::event as sound_event;
