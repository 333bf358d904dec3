//! The committed C header is exactly what cbindgen generates from the crate's source, so
//! the C declarations cannot drift from the Rust functions and structs.

use std::path::Path;

#[test]
fn the_committed_header_is_what_the_rust_side_declares() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("config");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen parses the crate")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("utf-8 header");
    let path = crate_dir.join("include/gmvae.h");
    if std::env::var_os("GMVAE_WRITE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let committed = std::fs::read_to_string(&path).expect("include/gmvae.h");
    assert!(
        committed == generated,
        "include/gmvae.h differs from the declarations in src/ (regenerate it with \
         GMVAE_WRITE_HEADER=1 cargo test -p gmvae-capi --test header, and review the diff)"
    );
}
