//! Links libtorch_cuda explicitly and embeds an rpath to the torch libraries (with the `torch`
//! feature, the default; the data side builds without libtorch).
//!
//! Without `--no-as-needed`, the linker drops `libtorch_cuda.so` (nothing references it
//! directly) and `tch::Cuda::is_available()` is false even on a GPU machine. The rpath lets the
//! binary and the test executables run with no `LD_LIBRARY_PATH`.
//!
//! It also sets `cfg(pretext_avx512)` when the compiler is Rust 1.89 or newer, where the AVX-512
//! target features are stable: the spectrogram's AVX-512 loop (`src/features/simd.rs`) is
//! compiled only then, so older compilers down to the crate's `rust-version` still build it.

use std::path::PathBuf;
use std::process::Command;

fn torch_lib_dir() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=PYTHON_SYS_EXECUTABLE");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        return Some(PathBuf::from(dir).join("lib"));
    }
    let python = std::env::var("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(python)
        .args([
            "-c",
            "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The compiler's minor version (`rustc 1.MINOR.patch ...`).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1)?.split('.').nth(1)?.parse().ok()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(pretext_avx512)");
    if rustc_minor().is_some_and(|minor| minor >= 89) {
        println!("cargo:rustc-cfg=pretext_avx512");
    }
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    let Some(lib) = torch_lib_dir() else {
        println!(
            "cargo:warning=torch libraries not found: run `make setup` (or set PYTHON_SYS_EXECUTABLE)"
        );
        return;
    };
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
