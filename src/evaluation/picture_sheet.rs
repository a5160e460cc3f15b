//! The contact sheet of tasks whose output is a picture (colourisation, inpainting): one row per
//! held-out example, its pictures left to right (input, prediction, original), each captioned,
//! the example named in the first caption. What `pretext eval task` writes next to its report.

use crate::training::PictureRow;
use crate::viz::{contact_sheet, RgbImage};

/// Lays `rows` out as a grid, `side × side` pixels per picture; `None` for no rows. Rows with
/// fewer pictures than the widest leave their cells dark.
pub fn picture_sheet(rows: &[PictureRow], side: u32) -> Option<RgbImage> {
    let columns = rows.iter().map(|r| r.pictures.len()).max().filter(|&c| c > 0)?;
    let blank = RgbImage::filled(side, side, [16, 16, 16]);
    let mut tiles = Vec::with_capacity(rows.len() * columns);
    for row in rows {
        for c in 0..columns {
            let (caption, picture) = match row.pictures.get(c) {
                Some((caption, p)) if c == 0 => (format!("{caption}: {}", row.label), p),
                Some((caption, p)) => (caption.clone(), p),
                None => (String::new(), &blank),
            };
            tiles.push((caption, picture.clone()));
        }
    }
    Some(contact_sheet(&tiles, columns, side, side))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_example_and_one_column_per_picture() {
        let red = RgbImage::filled(8, 8, [255, 0, 0]);
        let green = RgbImage::filled(8, 8, [0, 255, 0]);
        let rows = vec![
            PictureRow {
                label: "a.mp4 1.0s".into(),
                pictures: vec![("input".into(), red.clone()), ("original".into(), green.clone())],
            },
            PictureRow { label: "b.mp4 2.0s".into(), pictures: vec![("input".into(), green)] },
        ];
        let sheet = picture_sheet(&rows, 32).unwrap();
        // Two columns of 32 + 4 px, two rows of 32 + 16 + 4 px.
        assert_eq!((sheet.width, sheet.height), (2 * 36, 2 * 52));
        let at = |x: u32, y: u32| {
            let i = ((y * sheet.width + x) * 3) as usize;
            [sheet.rgb[i], sheet.rgb[i + 1], sheet.rgb[i + 2]]
        };
        assert_eq!(at(18, 18), [255, 0, 0]);
        assert_eq!(at(36 + 18, 18), [0, 255, 0]);
        assert_eq!(at(18, 52 + 18), [0, 255, 0]);
        assert_eq!(at(36 + 18, 52 + 18), [16, 16, 16], "the missing picture stays dark");
        assert!(picture_sheet(&[], 32).is_none());
    }
}
