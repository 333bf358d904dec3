//! Bytes as a model file after `gmvae_fuzz::fix_up` rewrites the length field and the CRC
//! trailer to match them, so that every mutation reaches the section, architecture,
//! calibration, string, table and value checks (and, when it stays valid, the runtime), then
//! the same checks as `model_runtime` (`gmvae_fuzz::check_model`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gmvae_fuzz::check_model(&gmvae_fuzz::fix_up(data)));
