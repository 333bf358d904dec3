//! Bytes as a PNG input image through the trainer's `decode_png` (the code behind `gmvae
//! classify`'s PNG inputs), for a model of the header's size when it is small
//! (`gmvae_fuzz::check_png`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gmvae_fuzz::check_png(data));
