//! Flickr-SoundNet (Senocak et al. 2018) annotations: one XML file per image, named after the
//! image stem, holding the boxes of three annotators on the 256×256 image.
//!
//! The published readers (EZ-VSL/SLAVC `load_all_bboxes`) walk the children of each top-level
//! element, take every `<bbox>` element and read its children after the first as
//! `xmin, ymin, xmax, ymax`, scaled `int(224·v/256)`. This reader is a small tag scanner, not a
//! general XML parser: it finds every `<bbox>…</bbox>` and reads its `<xmin>`, `<ymin>`,
//! `<xmax>`, `<ymax>` children by name, so element order and extra children do not matter.
//! Comments, attributes and whitespace are tolerated; a bbox missing a coordinate is an error.

use std::path::Path;

use super::{Consensus, LocalizationError, LocalizationTarget, PixelBox};

/// Side of the images the Flickr-SoundNet boxes refer to.
pub const FLICKR_IMAGE_SIZE: f64 = 256.0;

fn parse_error(path: &Path, reason: String) -> LocalizationError {
    LocalizationError::Parse { path: path.to_path_buf(), format: "flickr xml", reason }
}

/// Text between `<tag ...>` and `</tag>` for every occurrence of `tag` in `text`.
fn elements<'a>(text: &'a str, tag: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // The tag name must end here (so `<bbox` does not match `<bboxes>`).
        if !after.starts_with(['>', ' ', '\t', '\n', '\r']) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let body = &after[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The boxes `[xmin, ymin, xmax, ymax]` of one annotation file, in 256×256 image pixels.
pub fn parse_flickr_xml(text: &str, path: &Path) -> Result<Vec<[f64; 4]>, LocalizationError> {
    let text = strip_comments(text);
    let mut boxes = Vec::new();
    for (i, bbox) in elements(&text, "bbox").into_iter().enumerate() {
        let mut b = [0f64; 4];
        for (slot, name) in b.iter_mut().zip(["xmin", "ymin", "xmax", "ymax"]) {
            let value = elements(bbox, name)
                .first()
                .map(|v| v.trim().to_string())
                .ok_or_else(|| parse_error(path, format!("bbox {} has no <{name}>", i + 1)))?;
            *slot = value.parse::<f64>().map_err(|e| {
                parse_error(path, format!("bbox {} <{name}> = {value:?}: {e}", i + 1))
            })?;
        }
        boxes.push(b);
    }
    if boxes.is_empty() {
        return Err(parse_error(path, "no <bbox> element".into()));
    }
    Ok(boxes)
}

/// Reads one XML file into a target on the `size × size` grid (name = file stem).
pub fn read_flickr_xml(path: &Path, size: usize) -> Result<LocalizationTarget, LocalizationError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LocalizationError::Io { path: path.to_path_buf(), source: e })?;
    let scale = size as f64 / FLICKR_IMAGE_SIZE;
    let boxes = parse_flickr_xml(&text, path)?
        .into_iter()
        .map(|b| PixelBox::scaled(b.map(|v| v.trunc()), scale, scale))
        .collect();
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(LocalizationTarget { name, boxes, consensus: Consensus::Flickr, time: None })
}

/// Reads every `*.xml` of a folder, sorted by name.
pub fn read_flickr_dir(
    dir: &Path,
    size: usize,
) -> Result<Vec<LocalizationTarget>, LocalizationError> {
    let io = |e| LocalizationError::Io { path: dir.to_path_buf(), source: e };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")))
        .collect();
    paths.sort();
    paths.iter().map(|p| read_flickr_xml(p, size)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0"?>
<annotation>
  <!-- <bbox><xmin>1</xmin></bbox> in a comment is ignored -->
  <object><bbox><name>1</name><xmin>10</xmin><ymin>20</ymin><xmax>128</xmax><ymax>256</ymax></bbox></object>
  <object>
    <bbox id="2"><ymin> 0 </ymin><xmin>0</xmin><xmax>255</xmax><ymax>100</ymax></bbox>
  </object>
</annotation>"#;

    #[test]
    fn parses_boxes_in_any_order() {
        let boxes = parse_flickr_xml(XML, Path::new("x.xml")).unwrap();
        assert_eq!(boxes, vec![[10.0, 20.0, 128.0, 256.0], [0.0, 0.0, 255.0, 100.0]]);
    }

    #[test]
    fn missing_coordinate_and_garbage_are_errors() {
        let bad =
            "<annotation><bbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax></bbox></annotation>";
        let err = parse_flickr_xml(bad, Path::new("bad.xml")).unwrap_err().to_string();
        assert!(err.contains("bad.xml") && err.contains("ymax"), "{err}");
        let nan = "<bbox><xmin>a</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bbox>";
        assert!(parse_flickr_xml(nan, Path::new("n.xml")).is_err());
        assert!(parse_flickr_xml("<annotation/>", Path::new("e.xml")).is_err());
    }
}
