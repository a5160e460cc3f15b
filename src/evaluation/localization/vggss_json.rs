//! VGG-SS (Chen et al. 2021) annotations: one JSON array `metadata/vggss.json` of
//! `{"file": ID, "class": NAME, "bbox": [[x0, y0, x1, y1], ...]}` with coordinates normalised to
//! [0, 1]. The published readers clip to [0, 1], multiply by 224 and truncate
//! (`(np.clip(bbox, 0, 1) * 224).astype(int)`); the ground truth is the binary union.

use std::path::Path;

use serde::Deserialize;

use super::{Consensus, LocalizationError, LocalizationTarget, PixelBox};

#[derive(Debug, Deserialize)]
struct Entry {
    file: String,
    #[serde(default)]
    bbox: Vec<[f64; 4]>,
}

/// Parses the JSON text of a VGG-SS annotation file into targets on the `size × size` grid.
pub fn parse_vggss_json(
    text: &str,
    path: &Path,
    size: usize,
) -> Result<Vec<LocalizationTarget>, LocalizationError> {
    let entries: Vec<Entry> = serde_json::from_str(text).map_err(|e| LocalizationError::Parse {
        path: path.to_path_buf(),
        format: "vggss json",
        reason: e.to_string(),
    })?;
    let s = size as f64;
    Ok(entries
        .into_iter()
        .map(|e| LocalizationTarget {
            name: e.file.trim().to_string(),
            boxes: e
                .bbox
                .iter()
                .map(|b| PixelBox::scaled(b.map(|v| v.clamp(0.0, 1.0)), s, s))
                .collect(),
            consensus: Consensus::Union,
            time: None,
        })
        .collect())
}

/// Reads a VGG-SS annotation file.
pub fn read_vggss_json(
    path: &Path,
    size: usize,
) -> Result<Vec<LocalizationTarget>, LocalizationError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LocalizationError::Io { path: path.to_path_buf(), source: e })?;
    parse_vggss_json(&text, path, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_scales_and_truncates() {
        let text = r#"[{"file": "abc_000010", "class": "dog barking",
                        "bbox": [[0.1, -0.2, 0.5, 1.3], [0.25, 0.25, 0.75, 0.75]]},
                       {"file": "silent", "class": "x", "bbox": []}]"#;
        let t = parse_vggss_json(text, Path::new("v.json"), 224).unwrap();
        assert_eq!(t.len(), 2);
        // 0.1·224 = 22.4 → 22; 0.5·224 = 112; clipped 1.3 → 224.
        assert_eq!(t[0].boxes[0], PixelBox { x0: 22, y0: 0, x1: 112, y1: 224 });
        assert_eq!(t[0].boxes[1], PixelBox { x0: 56, y0: 56, x1: 168, y1: 168 });
        assert!(t[1].boxes.is_empty());
    }

    #[test]
    fn malformed_json_names_the_file() {
        let err = parse_vggss_json("[{\"file\": 1}]", Path::new("meta/v.json"), 224).unwrap_err();
        assert!(err.to_string().contains("meta/v.json"));
    }
}
