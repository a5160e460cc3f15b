//! A packed RGB24 picture (`width × height × 3` bytes, row-major), the unit the overlay,
//! contact-sheet and encoder code pass around.

/// Packed RGB24 pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width · height · 3` bytes.
    pub rgb: Vec<u8>,
}

impl RgbImage {
    /// A picture filled with one colour.
    pub fn filled(width: u32, height: u32, colour: [u8; 3]) -> Self {
        let rgb =
            colour.iter().copied().cycle().take(width as usize * height as usize * 3).collect();
        RgbImage { width, height, rgb }
    }

    /// Whether the buffer length matches the dimensions.
    pub fn is_consistent(&self) -> bool {
        self.rgb.len() == self.width as usize * self.height as usize * 3
    }

    /// Copies `src` with its top-left corner at `(x, y)`, clipping at the edges.
    pub fn blit(&mut self, src: &RgbImage, x: u32, y: u32) {
        let w = src.width.min(self.width.saturating_sub(x)) as usize;
        for row in 0..src.height.min(self.height.saturating_sub(y)) as usize {
            let d = ((y as usize + row) * self.width as usize + x as usize) * 3;
            let s = row * src.width as usize * 3;
            self.rgb[d..d + w * 3].copy_from_slice(&src.rgb[s..s + w * 3]);
        }
    }

    /// Draws the outline of the box `[x0, y0, x1, y1]` (pixels, `x1`/`y1` exclusive), `thick`
    /// pixels wide inside the box, clipped at the edges.
    pub fn outline(&mut self, b: [u32; 4], thick: u32, colour: [u8; 3]) {
        let (x1, y1) = (b[2].min(self.width), b[3].min(self.height));
        if b[0] >= x1 || b[1] >= y1 || !self.is_consistent() {
            return;
        }
        for y in b[1]..y1 {
            for x in b[0]..x1 {
                let edge =
                    x < b[0] + thick || x + thick >= x1 || y < b[1] + thick || y + thick >= y1;
                if edge {
                    let i = (y as usize * self.width as usize + x as usize) * 3;
                    self.rgb[i..i + 3].copy_from_slice(&colour);
                }
            }
        }
    }

    /// Resized copy (bilinear, `image`'s triangle filter).
    pub fn resized(&self, width: u32, height: u32) -> RgbImage {
        match image::RgbImage::from_raw(self.width, self.height, self.rgb.clone()) {
            Some(img) => {
                let out = image::imageops::resize(
                    &img,
                    width.max(1),
                    height.max(1),
                    image::imageops::FilterType::Triangle,
                );
                RgbImage { width: out.width(), height: out.height(), rgb: out.into_raw() }
            }
            None => RgbImage::filled(width, height, [0, 0, 0]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outline_draws_the_edges_only() {
        let mut img = RgbImage::filled(8, 6, [0, 0, 0]);
        img.outline([1, 1, 7, 5], 1, [255, 0, 0]);
        let px = |x: usize, y: usize| img.rgb[(y * 8 + x) * 3];
        assert_eq!((px(1, 1), px(6, 4), px(3, 1), px(1, 3)), (255, 255, 255, 255));
        assert_eq!((px(3, 2), px(0, 0), px(7, 5)), (0, 0, 0));
        // Out of range or empty boxes change nothing.
        let before = img.clone();
        img.outline([9, 9, 20, 20], 2, [0, 255, 0]);
        img.outline([3, 3, 3, 5], 1, [0, 255, 0]);
        assert_eq!(img, before);
    }
}
