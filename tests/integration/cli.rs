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
