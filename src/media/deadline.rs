//! A per-file wall-clock budget checked inside every decode loop.
//!
//! The same instant is handed to FFmpeg's interrupt callback (see `ffi::open_input`), so both our
//! loops and FFmpeg's blocking reads give up once it passes: a hostile file can cost at most its
//! budget, never hang a worker.

use std::path::Path;
use std::time::{Duration, Instant};

use super::MediaError;

/// A fixed point in time after which decoding of one file stops with [`MediaError::Deadline`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    budget: Option<Duration>,
}

impl Deadline {
    /// A deadline `budget` from now (`None`: no deadline).
    pub(crate) fn after(budget: Option<Duration>) -> Self {
        Deadline { at: budget.and_then(|b| Instant::now().checked_add(b)), budget }
    }

    /// The instant, for FFmpeg's interrupt callback.
    pub(crate) fn instant(&self) -> Option<Instant> {
        self.at
    }

    /// Whether the deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// `Err(Deadline)` naming `path` once the deadline has passed.
    pub(crate) fn check(&self, path: &Path) -> Result<(), MediaError> {
        if self.expired() {
            Err(self.error(path))
        } else {
            Ok(())
        }
    }

    /// The error reported when the deadline passed.
    pub(crate) fn error(&self, path: &Path) -> MediaError {
        MediaError::Deadline {
            path: path.to_path_buf(),
            seconds: self.budget.map_or(0.0, |b| b.as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_budget_expires_and_none_never_does() {
        let d = Deadline::after(Some(Duration::ZERO));
        assert!(d.expired());
        assert_eq!(d.check(Path::new("x.mp4")).unwrap_err().kind(), "deadline");
        let d = Deadline::after(None);
        assert!(!d.expired());
        assert!(d.check(Path::new("x.mp4")).is_ok());
    }
}
