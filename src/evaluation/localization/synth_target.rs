//! Ground truth for frames of the synthetic world (`annotations.jsonl`, see
//! [`crate::synth::ClipAnnotation`]): the boxes of the sounding object(s) in the frame shown at
//! time `t`, scaled from the clip's `width × height` to the `size × size` evaluation grid (the
//! frame is resized to a square without cropping, so x and y scale separately) and truncated
//! like the published readers. A clip whose only sound is off-screen has no box: it is a negative
//! sample of the extended protocol.
//!
//! When the model sees only part of the frame (the decoder's shorter-side centre crop),
//! [`synth_target_in_view`] maps boxes through that view and drops boxes left outside it.

use crate::synth::ClipAnnotation;

use super::{Consensus, LocalizationTarget, PixelBox};

/// Index of the frame displayed at `t` (the last frame starting at or before `t`).
pub fn frame_index(clip: &ClipAnnotation, t: f64, n_frames: usize) -> usize {
    let i = (t * clip.fps + 1e-6).floor();
    if i <= 0.0 {
        0
    } else {
        (i as usize).min(n_frames.saturating_sub(1))
    }
}

/// The region of the frame the model sees, in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Left edge.
    pub x0: f64,
    /// Top edge.
    pub y0: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

impl View {
    /// The whole `width × height` frame (resized without cropping).
    pub fn full(clip: &ClipAnnotation) -> View {
        View { x0: 0.0, y0: 0.0, width: clip.width as f64, height: clip.height as f64 }
    }

    /// The centred square of the shorter side (the decoder's `ShorterSideCrop`).
    pub fn centre_square(clip: &ClipAnnotation) -> View {
        let (w, h) = (clip.width as f64, clip.height as f64);
        let m = w.min(h);
        View { x0: (w - m) / 2.0, y0: (h - m) / 2.0, width: m, height: m }
    }
}

/// The target of the frame of `clip` shown at `t`, on a `size × size` grid covering the whole
/// frame.
pub fn synth_target(clip: &ClipAnnotation, t: f64, size: usize) -> LocalizationTarget {
    synth_target_in_view(clip, t, size, View::full(clip))
}

/// The target of the frame of `clip` shown at `t`, on a `size × size` grid covering `view`.
pub fn synth_target_in_view(
    clip: &ClipAnnotation,
    t: f64,
    size: usize,
    view: View,
) -> LocalizationTarget {
    let sx = size as f64 / view.width.max(1.0);
    let sy = size as f64 / view.height.max(1.0);
    let boxes = clip
        .objects
        .iter()
        .filter(|o| o.sounding && !o.boxes.is_empty())
        .map(|o| {
            let b = o.boxes[frame_index(clip, t, o.boxes.len())].map(f64::from);
            PixelBox::scaled(
                [b[0] - view.x0, b[1] - view.y0, b[2] - view.x0, b[3] - view.y0],
                sx,
                sy,
            )
        })
        .filter(|b| b.clamped_area(size) > 0)
        .collect();
    LocalizationTarget {
        name: format!("{}@{t:.3}", clip.file),
        boxes,
        consensus: Consensus::Union,
        time: Some(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::ObjectAnnotation;

    fn clip() -> ClipAnnotation {
        let obj = |sounding, boxes: Vec<[f32; 4]>| ObjectAnnotation {
            class: 0,
            class_name: "c".into(),
            sounding,
            boxes,
            onsets: vec![],
        };
        ClipAnnotation {
            file: "a.mp4".into(),
            split: "test".into(),
            duration: 1.0,
            fps: 2.0,
            sample_rate: 16000,
            width: 448,
            height: 224,
            objects: vec![
                obj(true, vec![[0.0, 0.0, 100.0, 50.0], [200.0, 100.0, 300.0, 150.0]]),
                obj(false, vec![[0.0, 0.0, 448.0, 224.0]; 2]),
            ],
            offscreen_class: None,
            offscreen_onsets: vec![],
            params: serde_json::Value::Null,
        }
    }

    #[test]
    fn picks_the_sounding_object_of_the_shown_frame() {
        let c = clip();
        let t0 = synth_target(&c, 0.2, 224);
        // x scales by 0.5, y by 1.
        assert_eq!(t0.boxes, vec![PixelBox { x0: 0, y0: 0, x1: 50, y1: 50 }]);
        let t1 = synth_target(&c, 0.5, 224);
        assert_eq!(t1.boxes, vec![PixelBox { x0: 100, y0: 100, x1: 150, y1: 150 }]);
        // Past the end: the last frame.
        assert_eq!(synth_target(&c, 9.0, 224).boxes, t1.boxes);
    }

    #[test]
    fn centre_square_view_shifts_and_drops_boxes() {
        let c = clip();
        // 448×224: the view is x 112..336; frame 1's box [200, 100, 300, 150] → [88, 100, 188, 150].
        let t = synth_target_in_view(&c, 0.5, 224, View::centre_square(&c));
        assert_eq!(t.boxes, vec![PixelBox { x0: 88, y0: 100, x1: 188, y1: 150 }]);
        // Frame 0's box [0, 0, 100, 50] lies left of the view: no visible source.
        assert!(synth_target_in_view(&c, 0.0, 224, View::centre_square(&c)).boxes.is_empty());
    }

    #[test]
    fn offscreen_only_clip_is_negative() {
        let mut c = clip();
        c.objects[0].sounding = false;
        c.offscreen_class = Some(3);
        assert!(synth_target(&c, 0.5, 224).boxes.is_empty());
    }
}
