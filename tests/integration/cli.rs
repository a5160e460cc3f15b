//! The command line as a user meets it.

use crate::common::run_pretext;

#[test]
fn version_and_help() {
    let out = run_pretext(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pretext "));
    let out = run_pretext(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
}

#[cfg(feature = "torch")]
#[test]
fn binary_links_libtorch_cuda() {
    let out = std::process::Command::new("readelf")
        .args(["-d", env!("CARGO_BIN_EXE_pretext")])
        .output()
        .expect("readelf (binutils) is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("libtorch_cuda.so"), "dynamic section lacks libtorch_cuda.so:\n{text}");
}

/// `pretext tasks` lists every registered task with its options, and presets; a closed pipe is
/// not a panic.
#[test]
fn tasks_lists_the_registry() {
    let out = run_pretext(&["tasks", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> =
        v["tasks"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, pretext::tasks::names());
    let avc = &v["tasks"][0];
    assert!(avc["options"].as_array().unwrap().iter().any(|o| o["key"] == "objective"));
    assert!(v["presets"].as_array().unwrap().iter().any(|p| p == "quick"));
    let mut child = crate::common::pretext()
        .arg("tasks")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}
