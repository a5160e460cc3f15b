//! Pictures for people: perceptual colour maps, PNG writing, and the one font every plot uses
//! (DejaVu Sans, embedded so plots render identically on machines without fontconfig).

mod colormap;
mod contact_sheet;
mod font;
mod overlay;
mod rgb_image;

pub use colormap::{inferno, viridis, Colormap};
pub use contact_sheet::contact_sheet;
pub use font::ensure_font;
pub use overlay::{colour_bar_width, draw_text, overlay, OverlayStyle};
pub use rgb_image::RgbImage;

use std::path::Path;

use crate::io::IoError;

/// Saves packed RGB24 pixels as a PNG, atomically.
pub fn save_rgb_png(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), IoError> {
    let mut bytes = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut bytes);
    image::ImageEncoder::write_image(encoder, rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|e| IoError::Format {
        path: path.to_path_buf(),
        format: "png",
        reason: e.to_string(),
    })?;
    crate::io::write_atomic(path, &bytes)
}
