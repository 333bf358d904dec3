//! Bytes as an IDX image file and as an IDX label file, raw or gzip (inflated first), through
//! the trainer's `parse_images` and `parse_labels`, the code behind `read_images` and
//! `read_labels` (`gmvae_fuzz::check_idx`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gmvae_fuzz::check_idx(data));
