//! The golden fixtures, in flash (`fixtures/golden/`, as `tests/golden.rs` uses them).

/// The golden model (the `edge` preset).
pub static MODEL: &[u8] = include_bytes!("../../../fixtures/golden/model.gmvae");

/// The golden inputs: `COUNT × PIXELS` little-endian `f32`.
pub static INPUTS: &[u8] = include_bytes!("../../../fixtures/golden/inputs.f32le");

/// Values per image (1 × 28 × 28).
pub const PIXELS: usize = 28 * 28;

/// Golden inputs.
pub const COUNT: usize = 24;

/// Decodes golden input `index` into `out` (left as it is when `index` is out of range).
pub fn image(index: usize, out: &mut [f32]) {
    let start = index * PIXELS * 4;
    if let Some(bytes) = INPUTS.get(start..start + PIXELS * 4) {
        for (v, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
}
