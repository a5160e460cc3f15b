//! Geometry on packed RGB24 buffers: the size plan for a requested output, centre crops, and the
//! quarter-turn rotations that make a rotated file come out upright.
//!
//! Scaling happens in the coded orientation (swscale cannot rotate); the plan says which coded
//! size to scale to and which coded rectangle to keep, so that after rotation the frame has the
//! requested displayed size. Rotation is clockwise, as FFmpeg's CLI applies it (`transpose=clock`
//! for 90°).

use super::ResizeMode;

/// What to do with a decoded frame of a given coded size.
///
/// A centre crop is taken from the *source* (`src_*`) before scaling, so the scaler only
/// produces pixels that are kept: for 640×360 → 256×256 that is 256 columns instead of 455.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Left edge of the source rectangle that is scaled (coded orientation; even, so chroma
    /// planes of subsampled formats start on a sample).
    pub src_x: u32,
    /// Top edge of the source rectangle (even).
    pub src_y: u32,
    /// Source rectangle width.
    pub src_w: u32,
    /// Source rectangle height.
    pub src_h: u32,
    /// Coded-orientation size to scale to.
    pub scale_w: u32,
    /// Coded-orientation height to scale to.
    pub scale_h: u32,
    /// Left edge of the kept rectangle in the scaled frame.
    pub crop_x: u32,
    /// Top edge of the kept rectangle.
    pub crop_y: u32,
    /// Kept width (coded orientation).
    pub crop_w: u32,
    /// Kept height (coded orientation).
    pub crop_h: u32,
    /// Clockwise rotation applied last (0, 90, 180, 270).
    pub rotation: i32,
}

impl Plan {
    /// Plans a coded `w × h` frame with `rotation` into the displayed `size` (or native size).
    pub(crate) fn new(
        w: u32,
        h: u32,
        rotation: i32,
        size: Option<(u32, u32)>,
        mode: ResizeMode,
    ) -> Plan {
        let quarter = rotation == 90 || rotation == 270;
        let (dw, dh) = if quarter { (h, w) } else { (w, h) };
        let (out_w, out_h) = size.unwrap_or((dw, dh));
        // The displayed source rectangle that is scaled: all of it, or the centred one with the
        // output's aspect ratio.
        let (kw, kh) = match mode {
            ResizeMode::Stretch => (dw, dh),
            ResizeMode::ShorterSideCrop => {
                let (ow, oh) = (f64::from(out_w), f64::from(out_h));
                if u64::from(dw) * u64::from(out_h) > u64::from(dh) * u64::from(out_w) {
                    (((f64::from(dh) * ow / oh).round() as u32).clamp(1, dw), dh)
                } else {
                    (dw, ((f64::from(dw) * oh / ow).round() as u32).clamp(1, dh))
                }
            }
        };
        // Back to the coded orientation.
        let (src_w, src_h, crop_w, crop_h) =
            if quarter { (kh, kw, out_h, out_w) } else { (kw, kh, out_w, out_h) };
        Plan {
            src_x: ((w - src_w) / 2) & !1,
            src_y: ((h - src_h) / 2) & !1,
            src_w,
            src_h,
            scale_w: crop_w,
            scale_h: crop_h,
            crop_x: 0,
            crop_y: 0,
            crop_w,
            crop_h,
            rotation,
        }
    }

    /// Displayed output size after crop and rotation.
    pub(crate) fn output_size(&self) -> (u32, u32) {
        if self.rotation == 90 || self.rotation == 270 {
            (self.crop_h, self.crop_w)
        } else {
            (self.crop_w, self.crop_h)
        }
    }
}

/// Copies the `plan`'s crop rectangle out of a strided RGB24 plane into packed `out`.
pub(crate) fn crop_rows(src: &[u8], stride: usize, plan: &Plan, out: &mut Vec<u8>) {
    let row = plan.crop_w as usize * 3;
    out.clear();
    out.reserve(row * plan.crop_h as usize);
    for y in 0..plan.crop_h as usize {
        let start = (plan.crop_y as usize + y) * stride + plan.crop_x as usize * 3;
        out.extend_from_slice(&src[start..start + row]);
    }
}

/// Rotates packed RGB24 `src` (`w × h`) clockwise by `rotation` into `out`.
pub(crate) fn rotate(src: &[u8], w: usize, h: usize, rotation: i32, out: &mut Vec<u8>) {
    out.clear();
    out.resize(src.len(), 0);
    for y in 0..h {
        for x in 0..w {
            let (nx, ny, nw) = match rotation {
                90 => (h - 1 - y, x, h),
                180 => (w - 1 - x, h - 1 - y, w),
                270 => (y, w - 1 - x, h),
                _ => (x, y, w),
            };
            let s = (y * w + x) * 3;
            let d = (ny * nw + nx) * 3;
            out[d..d + 3].copy_from_slice(&src[s..s + 3]);
        }
    }
}

/// Normalises a display-matrix angle to the clockwise quarter turn FFmpeg's CLI applies.
pub(crate) fn clockwise_quarter_turn(counter_clockwise_degrees: f64) -> i32 {
    let theta = -counter_clockwise_degrees.round();
    let theta = theta - 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
    let q = ((theta / 90.0).round() as i32).rem_euclid(4);
    q * 90
}

/// The counter-clockwise rotation in degrees encoded in a 3×3 display matrix (FFmpeg's
/// `av_display_rotation_get`), from the 36 raw bytes of the side data.
pub(crate) fn display_matrix_rotation(bytes: &[u8]) -> Option<f64> {
    if bytes.len() < 36 {
        return None;
    }
    let m = |i: usize| {
        let b = [bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]];
        f64::from(i32::from_ne_bytes(b)) / 65536.0
    };
    let scale0 = m(0).hypot(m(3));
    let scale1 = m(1).hypot(m(4));
    if scale0 == 0.0 || scale1 == 0.0 {
        return None;
    }
    let rotation = (m(1) / scale1).atan2(m(0) / scale0).to_degrees();
    Some(-rotation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_stretch_and_crop() {
        let p = Plan::new(320, 240, 0, Some((224, 224)), ResizeMode::Stretch);
        assert_eq!((p.scale_w, p.scale_h, p.crop_w, p.crop_h), (224, 224, 224, 224));
        let p = Plan::new(320, 240, 0, Some((224, 224)), ResizeMode::ShorterSideCrop);
        // The centred 240×240 of the source is scaled straight to 224×224.
        assert_eq!((p.src_x, p.src_y, p.src_w, p.src_h), (40, 0, 240, 240));
        assert_eq!((p.scale_w, p.scale_h), (224, 224));
        assert_eq!((p.crop_x, p.crop_y, p.output_size()), (0, 0, (224, 224)));
        // Offsets stay even (chroma planes); a taller source crops rows.
        let p = Plan::new(101, 300, 0, Some((64, 64)), ResizeMode::ShorterSideCrop);
        assert_eq!((p.src_x, p.src_y, p.src_w, p.src_h), (0, 98, 101, 101));
        // A 90° file, coded 320×240 (displayed 240×320), asked for 120×100 displayed: the kept
        // displayed 240×200 is coded 200×240, centred in the coded width.
        let p = Plan::new(320, 240, 90, Some((120, 100)), ResizeMode::ShorterSideCrop);
        assert_eq!((p.src_x, p.src_y, p.src_w, p.src_h), (60, 0, 200, 240));
        assert_eq!((p.scale_w, p.scale_h, p.output_size()), (100, 120, (120, 100)));
        // A 90° file: coded 320x240, displayed 240x320; ask for 120x100 displayed.
        let p = Plan::new(320, 240, 90, Some((120, 100)), ResizeMode::Stretch);
        assert_eq!((p.scale_w, p.scale_h), (100, 120));
        assert_eq!(p.output_size(), (120, 100));
        let p = Plan::new(320, 240, 90, None, ResizeMode::Stretch);
        assert_eq!(p.output_size(), (240, 320));
    }

    #[test]
    fn rotations_move_pixels_clockwise() {
        // 2x1 image: red then blue.
        let src = [255, 0, 0, 0, 0, 255];
        let mut out = Vec::new();
        rotate(&src, 2, 1, 90, &mut out); // 1x2: red on top
        assert_eq!(out, vec![255, 0, 0, 0, 0, 255]);
        rotate(&src, 2, 1, 180, &mut out);
        assert_eq!(out, vec![0, 0, 255, 255, 0, 0]);
        rotate(&src, 2, 1, 270, &mut out); // 1x2: blue on top
        assert_eq!(out, vec![0, 0, 255, 255, 0, 0]);
        // 2x2: a b / c d -> 90° cw: c a / d b
        let src: Vec<u8> = [1u8, 2, 3, 4].iter().flat_map(|&v| [v, v, v]).collect();
        rotate(&src, 2, 2, 90, &mut out);
        let got: Vec<u8> = out.chunks(3).map(|c| c[0]).collect();
        assert_eq!(got, vec![3, 1, 4, 2]);
    }

    #[test]
    fn quarter_turns() {
        assert_eq!(clockwise_quarter_turn(-90.0), 90);
        assert_eq!(clockwise_quarter_turn(90.0), 270);
        assert_eq!(clockwise_quarter_turn(0.0), 0);
        assert_eq!(clockwise_quarter_turn(-0.4), 0);
        assert_eq!(clockwise_quarter_turn(180.0), 180);
        assert_eq!(clockwise_quarter_turn(-180.0), 180);
    }
}
