//! Compute kernels, one job per file. Every kernel follows the accumulation order written
//! down in `NUMERICS.md` (and in the crate documentation), so its results are the same bits
//! on every target, in debug and in release.
//!
//! Kernels take plain slices. They check their buffer lengths once on entry and then read
//! with `get`, so a kernel handed inconsistent buffers returns [`ShapeMismatch`] instead of
//! panicking; [`crate::Model`] establishes the lengths once, when it parses the model.

pub(crate) mod active_grad;
pub(crate) mod adam;
pub(crate) mod batch;
pub(crate) mod conv3x3;
pub(crate) mod dense;
pub(crate) mod dense_t;
pub(crate) mod flat;
pub(crate) mod grid_grad;
pub(crate) mod lanes;
pub(crate) mod mahalanobis;
pub(crate) mod maxpool;
pub(crate) mod nearest;
pub(crate) mod pad;
pub(crate) mod phases;
pub(crate) mod recon;
pub(crate) mod relu;
pub(crate) mod sigmoid;
#[cfg(test)]
mod timing;
pub(crate) mod upconv;
pub(crate) mod window_upconv;

/// A kernel was handed buffers that do not match the geometry it was given.
///
/// Only a bug in this crate can produce it: the model's geometry is checked when it is parsed
/// and the workspace layout is derived from that geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShapeMismatch;

/// A weight stored either as a decoded `f32` (workspace) or as little-endian bytes (file).
pub(crate) trait Weight: Copy {
    /// The weight's value.
    fn value(self) -> f32;
}

impl Weight for f32 {
    #[inline(always)]
    fn value(self) -> f32 {
        self
    }
}

impl Weight for [u8; 4] {
    #[inline(always)]
    fn value(self) -> f32 {
        f32::from_le_bytes(self)
    }
}

/// Appends `(value, slot)` at position `n` of two parallel lists without a data-dependent
/// branch: both are written unconditionally (when `n` is in bounds), and the returned length
/// advances only past a non-zero value, so a zero is overwritten by the next append. Callers
/// size the lists for every candidate, so `n` stays in bounds.
#[inline(always)]
pub(crate) fn append_if_nonzero(
    values: &mut [f32],
    slots: &mut [f32],
    n: usize,
    value: f32,
    slot: f32,
) -> usize {
    if let (Some(a), Some(b)) = (values.get_mut(n), slots.get_mut(n)) {
        *a = value;
        *b = slot;
    }
    n + usize::from(value != 0.0)
}

/// Runs `$body` once per block of channels covering `0..$n` in ascending order — blocks of
/// 32, then 8, then 1 — with `$first` the block's first channel and `$B` its size as a
/// constant, so that each size is its own register-blocked instantiation of the kernel.
macro_rules! channel_blocks {
    ($n:expr, |$first:ident, $B:ident| $body:expr) => {{
        let n: usize = $n;
        let mut $first = 0usize;
        while $first + 32 <= n {
            {
                const $B: usize = 32;
                $body;
            }
            $first += 32;
        }
        while $first + 8 <= n {
            {
                const $B: usize = 8;
                $body;
            }
            $first += 8;
        }
        while $first < n {
            {
                const $B: usize = 1;
                $body;
            }
            $first += 1;
        }
    }};
}
pub(crate) use channel_blocks;

/// `acc[i] += k[i] · g` for every `i`: one rounding for the product, one for the sum (no
/// FMA) — a block of independent outputs, which vectorises.
#[inline(always)]
pub(crate) fn multiply_add<const B: usize>(acc: &mut [f32; B], k: &[f32; B], g: f32) {
    for (a, &k) in acc.iter_mut().zip(k) {
        *a += k * g;
    }
}

/// Stores an index in an `f32` workspace slot as its bit pattern. Moves preserve every bit
/// pattern (no arithmetic ever touches the slot), and reading it back is a plain bit cast, not
/// a float-to-integer conversion. Indices beyond `u32` become `u32::MAX`, which no buffer
/// here is long enough to accept: the reader's bounds check turns it into [`ShapeMismatch`].
#[inline(always)]
pub(crate) fn index_slot(index: usize) -> f32 {
    f32::from_bits(u32::try_from(index).unwrap_or(u32::MAX))
}

/// The index stored by [`index_slot`].
#[inline(always)]
pub(crate) fn slot_index(slot: f32) -> usize {
    slot.to_bits() as usize
}

/// Geometry of a set of 2-D planes stored one after the other in a flat buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Planes {
    /// Distance between the starts of consecutive channel planes.
    pub plane: usize,
    /// Distance between the starts of consecutive rows.
    pub row: usize,
    /// Offset of element (0, 0) of channel 0.
    pub origin: usize,
}

impl Planes {
    /// Index one past the last element of a `channels` × `rows` × `cols` block, or `None` on
    /// overflow. Zero-sized blocks occupy nothing.
    pub(crate) fn end(&self, channels: usize, rows: usize, cols: usize) -> Option<usize> {
        if channels == 0 || rows == 0 || cols == 0 {
            return Some(0);
        }
        let last = (channels - 1)
            .checked_mul(self.plane)?
            .checked_add((rows - 1).checked_mul(self.row)?)?
            .checked_add(cols - 1)?
            .checked_add(self.origin)?;
        last.checked_add(1)
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Deterministic pseudo-random data for kernel tests (no external RNG needed).

    use std::vec::Vec;

    /// SplitMix64 stream.
    pub(crate) struct Rng(pub u64);

    impl Rng {
        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in [-1, 1).
        pub(crate) fn sym(&mut self) -> f32 {
            ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }

        /// Uniform in [0, n).
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }

        pub(crate) fn vec(&mut self, n: usize) -> Vec<f32> {
            (0..n).map(|_| self.sym()).collect()
        }
    }

    /// Asserts |a - b| <= tol * max(1, |b|) elementwise.
    pub(crate) fn assert_close(got: &[f32], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let err = (g as f64 - w).abs();
            assert!(
                err <= tol * w.abs().max(1.0),
                "index {i}: got {g}, want {w}, err {err}"
            );
        }
    }
}
