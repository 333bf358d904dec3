//! Compute kernels, one job per file, named for the layer and the pass they compute. Every
//! kernel follows the accumulation order written down in `NUMERICS.md` (and in the crate
//! documentation), so its results are the same bits on every target, in debug and in release.
//!
//! Kernels take plain slices. They check their buffer lengths once on entry and then read
//! with `get`, so a kernel handed inconsistent buffers returns [`ShapeMismatch`] instead of
//! panicking; [`crate::Model`] establishes the lengths once, when it parses the model.
//!
//! # Which file computes what
//!
//! Forward passes run in [`crate::Model::classify`] (the whole network),
//! [`crate::Model::encode`] (the encoder's rows) and [`crate::Model::decode_into`] (the
//! decoder's), through `crate::forward`. Reclassification — [`crate::Model::reclassify`] and
//! [`crate::Model::reconstruction_gradient`], through `crate::backward` and `crate::lockstep`
//! — runs the decoder forward and then the gradient of the loss with respect to each layer's
//! input, back to `∂L/∂z`. The encoder is never differentiated.
//!
//! | layer | forward: classify, encode, decode_into | forward: reclassification | gradient (∂L/∂input): reclassification |
//! |---|---|---|---|
//! | encoder conv1, conv2 (3×3, C → c1 → c2) | [`encoder_conv_forward`] | — | — |
//! | encoder pools (ReLU, 2×2 max) | [`encoder_pool_forward`] | — | — |
//! | encoder fc1, fc2 (→ the latent `z`) | [`dense_forward`] | — | — |
//! | decoder fc1 (latent → hidden, ReLU) | [`dense_forward`] | [`dense_forward`] | [`dense_input_grad`] (`∂L/∂z`) |
//! | decoder fc2 (hidden → c2·h4·w4, ReLU) | [`dense_forward`] | [`dense_forward_lockstep`] | [`dense_input_grad_lockstep`] (through fc1's ReLU) |
//! | decoder conv1 (upsample 2×, conv c2 → c1, ReLU) | [`decoder_conv1_forward`] | [`decoder_conv1_forward`] | [`decoder_conv1_input_grad`] (through fc2's ReLU) |
//! | decoder conv2 (upsample 2×, conv c1 → C) | [`decoder_conv2_forward`] | [`decoder_conv2_forward`] | [`decoder_conv2_input_grad`] (through conv1's ReLU) |
//! | sigmoid | [`sigmoid`] | [`sigmoid`] | [`reconstruction_error_grad`] (with the error's) |
//! | reconstruction error `Σ (x − r)²` | [`reconstruction_error`] | [`reconstruction_error`] (the loss) | [`reconstruction_error_grad`] |
//! | squared Mahalanobis distance | [`mahalanobis`] | [`mahalanobis`] (the winner; confinement) | — |
//! | nearest class mean (the label) | [`nearest_mean`] | [`nearest_mean`] (the winner's label) | — |
//! | Adam step on `z` | — | [`adam`] | — |
//!
//! Shared by several of them: [`conv_engine`] (the register-blocked correlation of the
//! encoder convolutions and of decoder conv2's forward pass), [`folded_weights`] (the decoder
//! convolutions' kernels folded into 2×2 phase kernels, in the layout each pass reads),
//! [`lanes`] (the fixed 8-lane sums), [`relu`] and [`pad`] (zero-padded planes). The ReLUs'
//! gradients are masks inside the next kernel's gradient, as the table says. The tests share
//! one `f64` reference convolution (`reference`).

pub(crate) mod adam;
pub(crate) mod conv_engine;
pub(crate) mod decoder_conv1_forward;
pub(crate) mod decoder_conv1_input_grad;
pub(crate) mod decoder_conv2_forward;
pub(crate) mod decoder_conv2_input_grad;
pub(crate) mod dense_forward;
pub(crate) mod dense_forward_lockstep;
pub(crate) mod dense_input_grad;
pub(crate) mod dense_input_grad_lockstep;
pub(crate) mod encoder_conv_forward;
pub(crate) mod encoder_pool_forward;
pub(crate) mod folded_weights;
pub(crate) mod lanes;
pub(crate) mod mahalanobis;
pub(crate) mod nearest_mean;
pub(crate) mod pad;
pub(crate) mod reconstruction_error;
pub(crate) mod reconstruction_error_grad;
#[cfg(test)]
pub(crate) mod reference;
pub(crate) mod relu;
pub(crate) mod sigmoid;

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

/// Length of the *phase planes* of `channels` maps of `h × w` at phase resolution: `4 ·
/// channels` planes of `(h + 2) × (w + 2)`. The output gradient of an upsampling decoder
/// convolution is stored so ([`reconstruction_error_grad`] writes decoder conv2's,
/// [`decoder_conv2_input_grad`] decoder conv1's, channel innermost: the *phase grid*).
pub(crate) fn phase_planes_len(channels: usize, h: usize, w: usize) -> Option<usize> {
    channels
        .checked_mul(4)?
        .checked_mul(h.checked_add(2)?)?
        .checked_mul(w.checked_add(2)?)
}

/// The operands of a decoder convolution's input gradient, kept only where the ReLU in front
/// of the convolution was active ([`decoder_conv1_input_grad`], [`decoder_conv2_input_grad`];
/// each documents the layouts of its `grad` and `kernel`).
pub(crate) struct MaskedInputGrad<'a> {
    /// The output gradient, as phase planes or a phase grid ([`phase_planes_len`] values).
    pub grad: &'a [f32],
    /// The convolution's kernel, folded and laid out by [`folded_weights`] for this pass.
    pub kernel: &'a [f32],
    /// The forward ReLU output (the convolution's input), zero-padded `[cin][h + 2][w + 2]`.
    pub saved: &'a [f32],
    /// Input channels (of the forward convolution).
    pub cin: usize,
    /// Output channels (of the forward convolution).
    pub cout: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
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

        /// A random ReLU output: about `zero_share` of the values exactly `+0.0`, the rest
        /// positive.
        pub(crate) fn relu_like(&mut self, n: usize, zero_share: f32) -> Vec<f32> {
            (0..n)
                .map(|_| {
                    if (self.sym() + 1.0) / 2.0 < zero_share {
                        0.0
                    } else {
                        self.sym().abs() + 1e-3
                    }
                })
                .collect()
        }
    }

    /// `[c][h][w]` values in zero-padded `(h + 2) × (w + 2)` planes.
    pub(crate) fn pad(x: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
        let (hp, wp) = (h + 2, w + 2);
        let mut p = vec![0.0; c * hp * wp];
        for ci in 0..c {
            for y in 0..h {
                for xx in 0..w {
                    p[(ci * hp + y + 1) * wp + xx + 1] = x[(ci * h + y) * w + xx];
                }
            }
        }
        p
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
