//! Ground truth for frames of the synthetic world (`annotations.jsonl`, see
//! [`crate::synth::ClipAnnotation`]): the boxes of the sounding object(s) in the frame shown at
//! time `t`, scaled from the clip's `width × height` to the `size × size` evaluation grid (the
//! frame is resized to a square without cropping, so x and y scale separately) and truncated
//! like the published readers. A clip whose only sound is off-screen has no box: it is a negative
//! sample of the extended protocol.

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

/// The target of the frame of `clip` shown at `t`, on a `size × size` grid.
pub fn synth_target(clip: &ClipAnnotation, t: f64, size: usize) -> LocalizationTarget {
    let sx = size as f64 / clip.width.max(1) as f64;
    let sy = size as f64 / clip.height.max(1) as f64;
    let boxes = clip
        .objects
        .iter()
        .filter(|o| o.sounding && !o.boxes.is_empty())
        .map(|o| {
            let b = o.boxes[frame_index(clip, t, o.boxes.len())];
            PixelBox::scaled(b.map(f64::from), sx, sy)
        })
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
    fn offscreen_only_clip_is_negative() {
        let mut c = clip();
        c.objects[0].sounding = false;
        c.offscreen_class = Some(3);
        assert!(synth_target(&c, 0.5, 224).boxes.is_empty());
    }
}
