//! The correlation engine of the dense convolutions — encoder conv1 and conv2
//! ([`super::encoder_conv_forward`]) and decoder conv2's forward pass
//! ([`super::decoder_conv2_forward`]): a "flat" multi-tap correlation.
//!
//! Every input channel is a zero-padded plane stored row after row. A `KH × KW` kernel reads,
//! for output position `q` (a flat index into the padded row grid), the `KW` consecutive
//! inputs starting at `ci · in_plane + q + rows[r]` for each kernel row `r`. A same-size 3×3
//! convolution is `rows = [0, wp, 2wp]`, `KW = 3`; the decoder's folded 2×2 kernels are
//! `KH = KW = 2` with phase-dependent row offsets. Positions whose column falls into the
//! padding are computed too (their inputs are other real values) and never read back; in
//! exchange every tap of a block of `P` outputs is one contiguous slice, which vectorises.
//!
//! Numerics (see `NUMERICS.md`): for every output channel `co` and position `q`,
//!
//! ```text
//! out[co][q] = bias[co] + Σ_{ci ascending} Σ_{r ascending} Σ_{c ascending}
//!                         w[co][ci][r·KW + c] · in[ci][q + rows[r] + c]
//! ```
//!
//! accumulated left to right in `f32`, one rounding per multiply and one per add (no FMA),
//! with padding taps included (they add `w · 0`). The register blocking below only chooses
//! which independent outputs are computed together; it never reorders one output's sum.
//! When the channel or position count is not a multiple of the block, the last block is
//! shifted back to overlap the previous one: the overlapped outputs are recomputed by the
//! same arithmetic and rewritten with the same bits.

use super::{ShapeMismatch, Weight};

// Register blocks (output channels × positions). They only decide which independent outputs
// are computed together, so they may differ between targets without changing any result.
// Measured on Zen 3 with AVX2 (16 vector registers): 4 × 16 (8 accumulators); larger blocks
// spill.
#[cfg(target_feature = "avx")]
mod blocks {
    pub(crate) const ENC_CO: usize = 4;
    pub(crate) const ENC_P: usize = 16;
    pub(crate) const DEC_CO: usize = 4;
    pub(crate) const DEC_P: usize = 16;
}
// Without AVX (e.g. baseline x86-64 or AArch64 NEON: four-lane registers).
#[cfg(not(target_feature = "avx"))]
mod blocks {
    pub(crate) const ENC_CO: usize = 4;
    pub(crate) const ENC_P: usize = 8;
    pub(crate) const DEC_CO: usize = 4;
    pub(crate) const DEC_P: usize = 8;
}
pub(crate) use blocks::{DEC_CO, DEC_P, ENC_CO, ENC_P};

/// Positions of the single-channel block (used when `cout` is below the channel block).
const P_SINGLE: usize = 32;

/// Geometry of one flat correlation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlatConv {
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Distance between consecutive input channel planes.
    pub in_plane: usize,
    /// Distance between consecutive output channel planes.
    pub out_plane: usize,
    /// Output positions computed per channel (`q` in `0..n_out`).
    pub n_out: usize,
}

/// Runs the correlation; `weights` is `[cout][cin][KH][KW]` (`K = KH · KW`), `bias` is
/// `[cout]`, and `out` receives `out[co · out_plane + q]` for `q < n_out` (nothing else is
/// written). `CO × P` is the register block.
#[inline(always)]
pub(crate) fn correlate<
    W: Weight,
    B: Weight,
    const KH: usize,
    const KW: usize,
    const K: usize,
    const CO: usize,
    const P: usize,
>(
    input: &[f32],
    rows: &[usize; KH],
    weights: &[W],
    bias: &[B],
    out: &mut [f32],
    g: &FlatConv,
) -> Result<(), ShapeMismatch> {
    check::<KH, KW, K>(input.len(), rows, weights.len(), bias.len(), out.len(), g)
        .ok_or(ShapeMismatch)?;
    if g.n_out == 0 || g.cout == 0 {
        return Ok(());
    }
    let (chunks, _) = weights.as_chunks::<K>();
    if g.cout >= CO {
        for co in starts(g.cout, CO) {
            channels::<W, B, KH, KW, K, CO, P>(input, rows, chunks, bias, out, g, co)?;
        }
    } else {
        for co in 0..g.cout {
            channels::<W, B, KH, KW, K, 1, P_SINGLE>(input, rows, chunks, bias, out, g, co)?;
        }
    }
    Ok(())
}

/// Block starts covering `0..n` with blocks of `b ≤ n`: `0, b, 2b, …`, the last one shifted
/// back to end exactly at `n`.
#[inline(always)]
fn starts(n: usize, b: usize) -> impl Iterator<Item = usize> {
    let last = n.saturating_sub(b);
    (0..n.div_ceil(b)).map(move |i| (i * b).min(last))
}

/// Entry validation: afterwards no index computed below can overflow or fall outside.
#[inline(always)]
fn check<const KH: usize, const KW: usize, const K: usize>(
    input_len: usize,
    rows: &[usize; KH],
    weights_len: usize,
    bias_len: usize,
    out_len: usize,
    g: &FlatConv,
) -> Option<()> {
    let row_len = g.cin.checked_mul(K)?;
    let shapes_ok = KH.checked_mul(KW)? == K
        && KW > 0
        && weights_len == g.cout.checked_mul(row_len)?
        && bias_len == g.cout
        && g.cin > 0;
    shapes_ok.then_some(())?;
    if g.n_out == 0 || g.cout == 0 {
        return Some(());
    }
    let max_row = rows.iter().copied().max().unwrap_or(0);
    let in_needed = (g.cin - 1)
        .checked_mul(g.in_plane)?
        .checked_add(g.n_out)?
        .checked_add(max_row)?
        .checked_add(KW - 1)?;
    let out_needed = (g.cout - 1)
        .checked_mul(g.out_plane)?
        .checked_add(g.n_out)?;
    (in_needed <= input_len && out_needed <= out_len).then_some(())
}

/// Computes output channels `co0 .. co0 + CO` for every position.
#[inline(always)]
fn channels<
    W: Weight,
    B: Weight,
    const KH: usize,
    const KW: usize,
    const K: usize,
    const CO: usize,
    const P: usize,
>(
    input: &[f32],
    rows: &[usize; KH],
    weights: &[[W; K]],
    bias: &[B],
    out: &mut [f32],
    g: &FlatConv,
    co0: usize,
) -> Result<(), ShapeMismatch> {
    // Tap `k = r · KW + c` reads offset `rows[r] + c` (no overflow: checked on entry).
    // Stored as `u32`, so that on 64-bit targets `t + P` provably cannot overflow and the
    // per-tap bounds check is a single comparison.
    let mut taps = [0u32; K];
    for (k, t) in taps.iter_mut().enumerate() {
        let offset = rows.get(k / KW).ok_or(ShapeMismatch)? + k % KW;
        *t = u32::try_from(offset).map_err(|_| ShapeMismatch)?;
    }
    // Hide the `+ 1` relation between neighbouring taps from the optimiser: knowing it, LLVM
    // replaces the overlapping unaligned loads by long shuffle sequences, which are slower.
    // (A pure performance hint: the value is unchanged.)
    let taps = core::hint::black_box(taps);
    let mut wrows: [&[[W; K]]; CO] = [&[]; CO];
    let mut b = [0.0f32; CO];
    for (c, (row, bc)) in wrows.iter_mut().zip(b.iter_mut()).enumerate() {
        let start = (co0 + c) * g.cin;
        *row = weights.get(start..start + g.cin).ok_or(ShapeMismatch)?;
        *bc = bias.get(co0 + c).ok_or(ShapeMismatch)?.value();
    }
    if g.n_out >= P {
        for q in starts(g.n_out, P) {
            let acc = block::<W, K, CO, P>(input, g, q, &taps, &wrows, &b).ok_or(ShapeMismatch)?;
            store(out, g, co0, q, &acc)?;
        }
    } else {
        for q in 0..g.n_out {
            let acc = block::<W, K, CO, 1>(input, g, q, &taps, &wrows, &b).ok_or(ShapeMismatch)?;
            store(out, g, co0, q, &acc)?;
        }
    }
    Ok(())
}

/// Writes a finished register block.
#[inline(always)]
fn store<const CO: usize, const P: usize>(
    out: &mut [f32],
    g: &FlatConv,
    co0: usize,
    q: usize,
    acc: &[[f32; P]; CO],
) -> Result<(), ShapeMismatch> {
    for (c, a) in acc.iter().enumerate() {
        let start = (co0 + c) * g.out_plane + q;
        out.get_mut(start..start + P)
            .ok_or(ShapeMismatch)?
            .copy_from_slice(a);
    }
    Ok(())
}

/// The register block: `CO` channels × `P` consecutive positions starting at `q`.
#[inline(always)]
fn block<W: Weight, const K: usize, const CO: usize, const P: usize>(
    input: &[f32],
    g: &FlatConv,
    q: usize,
    taps: &[u32; K],
    wrows: &[&[[W; K]]; CO],
    bias: &[f32; CO],
) -> Option<[[f32; P]; CO]> {
    let mut acc = [[0.0f32; P]; CO];
    for (a, &b) in acc.iter_mut().zip(bias) {
        *a = [b; P];
    }
    for ci in 0..g.cin {
        let plane = input.get(ci * g.in_plane + q..)?;
        let first = wrows.first()?.get(ci)?;
        let mut w: [&[W; K]; CO] = [first; CO];
        for (wc, row) in w.iter_mut().zip(wrows) {
            *wc = row.get(ci)?;
        }
        for (k, &t) in taps.iter().enumerate() {
            let t = usize::try_from(t).ok()?;
            // Runtime tap offsets keep these plain unaligned vector loads.
            let x: &[f32; P] = plane.get(t..t + P)?.try_into().ok()?;
            for (a, wc) in acc.iter_mut().zip(&w) {
                let wv = wc.get(k)?.value();
                for (ap, &xp) in a.iter_mut().zip(x) {
                    *ap += wv * xp;
                }
            }
        }
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_starts_cover_and_overlap_only_at_the_end() {
        let v: std::vec::Vec<usize> = starts(61, 16).collect();
        assert_eq!(v, [0, 16, 32, 45]);
        let v: std::vec::Vec<usize> = starts(64, 16).collect();
        assert_eq!(v, [0, 16, 32, 48]);
        let v: std::vec::Vec<usize> = starts(6, 4).collect();
        assert_eq!(v, [0, 2]);
    }
}
