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
