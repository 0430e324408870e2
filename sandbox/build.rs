//! Builds the warm compiler (`src/warmcc/server.cpp`): a compile server linked against
//! clang 14 and lld 14, embedded in the crate and started by it at run time.
//!
//! Without the clang/lld development files (Debian: `libclang-14-dev liblld-14-dev
//! llvm-14-dev`) or a C++ compiler the build does not fail: the crate embeds no server,
//! records why in `HONE_WARMCC_NOT_BUILT`, and compiles C and C++ candidates with the
//! `clang` binary (the cold path); `hone doctor` says so.

#![allow(
    clippy::disallowed_methods,
    reason = "a build script reads cargo's environment (OUT_DIR) and its C++ compiler's name"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the clang 14 / lld 14 / LLVM 14 development files are.
const LLVM_DIR: &str = "/usr/lib/llvm-14";

/// The files the server needs, each with the Debian package that has it.
const NEEDED: [(&str, &str); 6] = [
    ("include/clang/Driver/Driver.h", "libclang-14-dev"),
    ("include/lld/Common/Driver.h", "liblld-14-dev"),
    ("include/llvm/Support/InitLLVM.h", "llvm-14-dev"),
    ("lib/liblldWasm.a", "liblld-14-dev"),
    ("lib/liblldCommon.a", "liblld-14-dev"),
    ("lib/libclang-cpp.so.14", "libclang-cpp14"),
];

fn main() {
    println!("cargo:rerun-if-changed=src/warmcc/server.cpp");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HONE_WARMCC_CXX");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let server = out_dir.join("hone-warmcc");
    let reason = match build(&server) {
        Ok(()) => String::new(),
        Err(reason) => {
            println!(
                "cargo:warning=the warm compiler is not built ({reason}); C and C++ candidates will be compiled by the clang binary"
            );
            // An empty file: the crate embeds it and knows there is no server.
            std::fs::write(&server, b"").expect("write an empty server placeholder");
            reason
        }
    };
    println!("cargo:rustc-env=HONE_WARMCC_SERVER={}", server.display());
    println!("cargo:rustc-env=HONE_WARMCC_NOT_BUILT={reason}");
}

/// Compiles and links the server into `out`; why not, when it cannot.
fn build(out: &Path) -> Result<(), String> {
    let llvm = Path::new(LLVM_DIR);
    let missing: Vec<String> = NEEDED
        .iter()
        .filter(|(file, _)| !llvm.join(file).exists())
        .map(|(file, package)| format!("{} (Debian package {package})", llvm.join(file).display()))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing {}", missing.join(", ")));
    }
    let cxx = std::env::var("HONE_WARMCC_CXX").unwrap_or_else(|_| "clang++".into());
    let source = Path::new("src/warmcc/server.cpp");
    let include = llvm.join("include");
    let lib = llvm.join("lib");
    let output = Command::new(&cxx)
        .arg(format!("-I{}", include.display()))
        .args([
            "-std=c++17",
            "-O2",
            "-fno-rtti",
            "-fno-exceptions",
            "-D_GNU_SOURCE",
            "-D__STDC_CONSTANT_MACROS",
            "-D__STDC_FORMAT_MACROS",
            "-D__STDC_LIMIT_MACROS",
        ])
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg(format!("-L{}", lib.display()))
        .args([
            "-llldWasm",
            "-llldCommon",
            "-l:libclang-cpp.so.14",
            "-lLLVM-14",
        ])
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .map_err(|e| format!("cannot run the C++ compiler `{cxx}`: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first: Vec<&str> = stderr.lines().take(5).collect();
        return Err(format!("`{cxx}` failed: {}", first.join(" / ")));
    }
    Ok(())
}
