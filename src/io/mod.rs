//! Small file formats shared by every stage: `.npy` arrays (what Python reads), mono/interleaved
//! WAV, and atomic writes (write to a temporary sibling, then rename) so a killed process never
//! leaves a half-written file under the final name.

mod atomic;
mod error;
mod npy;
mod npy_rows;
mod wav;

pub use atomic::{write_atomic, AtomicFile};
pub use error::IoError;
pub use npy::{npy_f32_bytes, npy_i64_bytes, read_npy_f32, write_npy_f32, write_npy_i64, NpyArray};
pub use npy_rows::NpyRowWriter;
pub use wav::{read_wav_f32, write_wav_f32};
