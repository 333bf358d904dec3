//! Bytes as a model file: `gmvae_format::ModelView::parse` and `gmvae_runtime::Model::parse`
//! agree, and a model that parses classifies and reclassifies an image made from the bytes
//! with only documented errors (`gmvae_fuzz::check_model`). Most mutations stop at the
//! length or CRC checks here; `model_fixed_up` repairs those to reach the deeper ones.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| gmvae_fuzz::check_model(data));
