//! A contact sheet: one tile per clip (its first overlay), resized to a common tile size, laid
//! out in a grid with the clip's name under each tile, for a quick look at many clips at once.

use super::overlay::draw_text;
use super::RgbImage;

/// Tiles `(label, picture)` into a grid of `columns` columns, each tile `tile_w × tile_h` plus a
/// label strip. Returns a 1×1 black picture for no tile.
pub fn contact_sheet(
    tiles: &[(String, RgbImage)],
    columns: usize,
    tile_w: u32,
    tile_h: u32,
) -> RgbImage {
    if tiles.is_empty() {
        return RgbImage::filled(1, 1, [0, 0, 0]);
    }
    let columns = columns.clamp(1, tiles.len());
    let rows = tiles.len().div_ceil(columns);
    let label_h = 16u32;
    let (cell_w, cell_h) = (tile_w + 4, tile_h + label_h + 4);
    let mut sheet = RgbImage::filled(cell_w * columns as u32, cell_h * rows as u32, [16, 16, 16]);
    for (i, (label, picture)) in tiles.iter().enumerate() {
        let (cx, cy) = ((i % columns) as u32 * cell_w + 2, (i / columns) as u32 * cell_h + 2);
        sheet.blit(&picture.resized(tile_w, tile_h), cx, cy);
        let short: String = label.chars().take((tile_w / 7).max(4) as usize).collect();
        draw_text(&mut sheet, &short, cx as i32, (cy + tile_h + 1) as i32, 12.0, [220, 220, 220]);
    }
    sheet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_size_and_tile_placement() {
        let tiles: Vec<(String, RgbImage)> = (0..5)
            .map(|i| (format!("clip{i}"), RgbImage::filled(40, 30, [200, (i * 40) as u8, 0])))
            .collect();
        let sheet = contact_sheet(&tiles, 3, 20, 15);
        assert!(sheet.is_consistent());
        assert_eq!((sheet.width, sheet.height), (3 * 24, 2 * (15 + 16 + 4)));
        // Tile 4 sits in row 1, column 1; its centre has that tile's colour.
        let (x, y) = (24 + 2 + 10, 35 + 2 + 7);
        let i = ((y * sheet.width + x) * 3) as usize;
        assert_eq!(&sheet.rgb[i..i + 3], &[200, 160, 0]);
    }
}
