//! Damage found while decoding: what went wrong, in which stream, where on the container clock.
//!
//! The decoders record every sign of damage they meet (see `video_decoder` and `audio_decoder`
//! for where each comes from) as [`DamageSpan`]s in a [`Damage`] list. A request whose window
//! overlaps a span fails with [`super::MediaError::Damaged`] unless the caller allowed damaged
//! data, so a broken file never passes as good data by default.
//!
//! The list is bounded ([`MAX_SPANS`]): spans of the same stream and kind that touch are merged,
//! and once the list is full a new span is merged into the nearest one of its kind (the union
//! only ever grows, so nothing damaged is forgotten). A hostile file cannot grow it without
//! limit.

use serde::Serialize;

/// Most spans one [`Damage`] keeps before merging neighbours.
pub const MAX_SPANS: usize = 64;

/// What kind of damage a span records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageKind {
    /// The decoder rejected a packet or reported errors while decoding it.
    DecodeError,
    /// A frame came out flagged as corrupt or concealed by the decoder, or was predicted from
    /// such a frame (every frame up to the next keyframe).
    Concealed,
    /// Audio samples are missing: a gap in the timestamps (it would be filled with silence).
    MissingSamples,
    /// The stream ends before the end the container declares (a truncated file).
    Truncated,
    /// The container could not be read there (broken structure, unreadable bytes).
    ReadError,
}

impl DamageKind {
    /// A short stable name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            DamageKind::DecodeError => "decode_error",
            DamageKind::Concealed => "concealed",
            DamageKind::MissingSamples => "missing_samples",
            DamageKind::Truncated => "truncated",
            DamageKind::ReadError => "read_error",
        }
    }
}

/// One stretch of damage in one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DamageSpan {
    /// "video" or "audio".
    pub stream: &'static str,
    /// What went wrong.
    pub kind: DamageKind,
    /// Start on the container clock, in seconds.
    pub start: f64,
    /// End on the container clock, in seconds (`start` itself for a single video frame).
    pub end: f64,
    /// How many events (packets, frames, gaps) the span merges.
    pub count: u64,
    /// The first message that came with it (FFmpeg's own words where it gave any).
    pub detail: String,
}

impl DamageSpan {
    /// Whether the span touches `[start, end]` (closed: a frame at exactly `end` counts).
    pub fn touches(&self, start: f64, end: f64) -> bool {
        self.start <= end && self.end >= start
    }
}

impl std::fmt::Display for DamageSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            DamageKind::DecodeError => "decode error",
            DamageKind::Concealed => "concealed or predicted-from-damage frame",
            DamageKind::MissingSamples => "gap of missing samples",
            DamageKind::Truncated => "data missing (truncated)",
            DamageKind::ReadError => "unreadable container data",
        };
        let plural = if self.count == 1 || self.kind == DamageKind::Truncated { "" } else { "s" };
        if self.end > self.start {
            write!(f, "{} {what}{plural} in {:.3}..{:.3}s", self.count, self.start, self.end)?;
        } else {
            write!(f, "{} {what}{plural} at {:.3}s", self.count, self.start)?;
        }
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// A bounded list of damage spans, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Damage {
    spans: Vec<DamageSpan>,
}

impl Damage {
    /// No damage.
    pub fn new() -> Self {
        Damage::default()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Every span.
    pub fn spans(&self) -> &[DamageSpan] {
        &self.spans
    }

    /// Events recorded (the sum of the spans' counts).
    pub fn events(&self) -> u64 {
        self.spans.iter().map(|s| s.count).sum()
    }

    /// Records damage of `kind` in `stream` over `[start, end]`. A span of the same stream and
    /// kind that lies within `join` seconds is extended instead of adding a new one.
    pub fn add(
        &mut self,
        stream: &'static str,
        kind: DamageKind,
        range: (f64, f64),
        join: f64,
        detail: impl FnOnce() -> String,
    ) {
        self.add_events(stream, kind, range, join, 1, detail);
    }

    /// Adds every span of `other` (merging as [`Damage::add`] does, without joining gaps).
    pub fn extend(&mut self, other: &Damage) {
        for s in &other.spans {
            self.add_events(s.stream, s.kind, (s.start, s.end), 0.0, s.count, || s.detail.clone());
        }
    }

    fn add_events(
        &mut self,
        stream: &'static str,
        kind: DamageKind,
        (start, end): (f64, f64),
        join: f64,
        count: u64,
        detail: impl FnOnce() -> String,
    ) {
        if !(start.is_finite() && end.is_finite()) {
            return;
        }
        let (start, end) = (start.min(end), start.max(end));
        let same = |s: &DamageSpan| s.stream == stream && s.kind == kind;
        let near = |s: &DamageSpan| same(s) && s.start <= end + join && s.end + join >= start;
        let target = match self.spans.iter().position(near) {
            Some(i) => Some(i),
            None if self.spans.len() >= MAX_SPANS => {
                // Full: widen the nearest span of the same stream and kind (or the last one).
                let gap = |s: &DamageSpan| (s.start - end).max(start - s.end).max(0.0);
                let nearest = (0..self.spans.len())
                    .filter(|&i| same(&self.spans[i]))
                    .min_by(|&a, &b| gap(&self.spans[a]).total_cmp(&gap(&self.spans[b])));
                nearest.or(self.spans.len().checked_sub(1))
            }
            None => None,
        };
        match target.and_then(|i| self.spans.get_mut(i)) {
            Some(s) => {
                s.start = s.start.min(start);
                s.end = s.end.max(end);
                s.count += count;
            }
            None => {
                self.spans.push(DamageSpan { stream, kind, start, end, count, detail: detail() })
            }
        }
    }

    /// The spans touching `[start, end]`.
    pub fn touching(&self, start: f64, end: f64) -> Damage {
        Damage { spans: self.spans.iter().filter(|s| s.touches(start, end)).cloned().collect() }
    }

    /// One line naming every span ("; "-separated).
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self.spans.iter().map(ToString::to_string).collect();
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_neighbours_and_stays_bounded() {
        let mut d = Damage::new();
        d.add("video", DamageKind::DecodeError, (1.0, 1.0), 0.1, || "first".into());
        d.add("video", DamageKind::DecodeError, (1.04, 1.04), 0.1, || "second".into());
        d.add("audio", DamageKind::DecodeError, (1.0, 1.1), 0.1, String::new);
        assert_eq!(d.spans().len(), 2);
        assert_eq!(d.spans()[0].count, 2);
        assert_eq!(d.spans()[0].detail, "first");
        assert!((d.spans()[0].end - 1.04).abs() < 1e-12);
        for i in 0..10 * MAX_SPANS {
            d.add("video", DamageKind::Concealed, (i as f64, i as f64), 0.1, String::new);
        }
        assert_eq!(d.spans().len(), MAX_SPANS);
        assert_eq!(d.events(), 3 + 10 * MAX_SPANS as u64);
        // Nothing is forgotten: the union still covers every frame added.
        for i in 0..10 * MAX_SPANS {
            assert!(!d.touching(i as f64, i as f64).is_empty(), "frame {i} lost");
        }
    }

    #[test]
    fn touching_is_closed_and_summary_names_each_span() {
        let mut d = Damage::new();
        d.add("video", DamageKind::Concealed, (2.0, 2.4), 0.0, String::new);
        assert_eq!(d.touching(2.4, 3.0).spans().len(), 1);
        assert!(d.touching(2.41, 3.0).is_empty());
        assert!(d.touching(0.0, 1.99).is_empty());
        d.add("audio", DamageKind::MissingSamples, (5.0, 5.5), 0.0, || "gap".into());
        let s = d.summary();
        assert!(s.contains("2.000..2.400s") && s.contains("gap of missing samples"), "{s}");
        d.add("video", DamageKind::Concealed, (f64::NAN, 1.0), 0.0, String::new);
        assert_eq!(d.spans().len(), 2);
    }
}
