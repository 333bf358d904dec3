//! Puts `memory.x` where cortex-m-rt's `link.x` finds it, and compiles the C example
//! (`runtime/capi/c/classify_golden.c`) with the target's C compiler (`arm-none-eabi-gcc`)
//! so that the firmware links it.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::copy("memory.x", out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    let target = std::env::var("TARGET").expect("TARGET");
    println!("cargo:rustc-env=FIRMWARE_TARGET={target}");

    let capi = PathBuf::from("../capi");
    cc::Build::new()
        .file(capi.join("c/classify_golden.c"))
        .include(capi.join("include"))
        .flag("-std=c99")
        .flag("-ffreestanding")
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-Werror")
        .opt_level(2)
        .compile("classify_golden");
    println!("cargo:rerun-if-changed=../capi/c/classify_golden.c");
    println!("cargo:rerun-if-changed=../capi/c/classify_golden.h");
    println!("cargo:rerun-if-changed=../capi/include/gmvae.h");
}
