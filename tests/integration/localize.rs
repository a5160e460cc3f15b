//! Localisation (issue #7): annotation readers on the committed examples under
//! `tests/data/localization/`, and the CLI end to end.

use std::path::PathBuf;

use pretext::evaluation::localization::{
    flickr_xml, gt_map, synth_target, vggss_json, Consensus, PixelBox,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/localization").join(name)
}

#[test]
fn flickr_xml_examples_parse_with_consensus() {
    let targets = flickr_xml::read_flickr_dir(&data("flickr"), 224).unwrap();
    assert_eq!(targets.len(), 2);
    let t = &targets[0];
    assert_eq!(t.name, "10000130166");
    assert_eq!(t.consensus, Consensus::Flickr);
    // int(224·64/256) = 56, int(224·32/256) = 28, int(224·192/256) = 168, int(224·160/256) = 140.
    assert_eq!(t.boxes[0], PixelBox { x0: 56, y0: 28, x1: 168, y1: 140 });
    let g = gt_map(t, 224);
    // Overlap of annotators 1 and 2 weighs 1, each alone 0.5, annotator 3 alone 0.5.
    assert_eq!(g[100 * 224 + 100], 1.0);
    assert_eq!(g[30 * 224 + 60], 0.5);
    assert_eq!(g[210 * 224 + 10], 0.5);
    assert_eq!(g[5 * 224 + 5], 0.0);
    // The border example reaches the last column.
    assert_eq!(gt_map(&targets[1], 224)[100 * 224 + 223], 1.0);
}

#[test]
fn vggss_json_example_parses() {
    let targets = vggss_json::read_vggss_json(&data("vggss.json"), 224).unwrap();
    assert_eq!(targets.len(), 3);
    assert_eq!(targets[0].boxes, vec![PixelBox { x0: 44, y0: 22, x1: 134, y1: 201 }]);
    assert_eq!(targets[1].boxes[1], PixelBox { x0: 156, y0: 134, x1: 224, y1: 224 });
    assert!(targets[2].boxes.is_empty());
}

#[test]
fn synth_annotations_example_gives_sounding_boxes() {
    let clips = pretext::synth::read_annotations(&data("annotations.jsonl")).unwrap();
    let t = synth_target::synth_target(&clips[0], 0.3, 224);
    // Frame 1 (0.25 ≤ 0.3 < 0.5): [20, 10, 60, 50] on 160×120 → ×1.4, ×1.8667.
    assert_eq!(t.boxes, vec![PixelBox { x0: 28, y0: 18, x1: 84, y1: 93 }]);
    assert!(synth_target::synth_target(&clips[1], 0.3, 224).boxes.is_empty());
}
