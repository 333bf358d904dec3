//! The decoder convolutions' `3 × 3` kernels folded into four `2 × 2` phase kernels, in the
//! layout each pass that reads them needs.
//!
//! Output pixel `(2y + py, 2x + px)` (phase `py, px ∈ {0, 1}`) of a 3×3 convolution (zero
//! padding 1) of a nearest-upsampled image reads upsampled rows `2y + py − 1 ..= 2y + py + 1`,
//! which are input rows `y − 1, y, y` (`py = 0`) or `y, y, y + 1` (`py = 1`), and likewise for
//! columns; the upsampled image's zero padding is exactly the input's zero padding. So each
//! phase is a 2×2 correlation over the zero-padded input whose taps are sums of the original
//! taps:
//!
//! ```text
//! groups(0) = [{0}, {1, 2}]      groups(1) = [{0, 1}, {2}]
//! f[py,px][co][ci][dy][dx] = Σ_{ky ∈ groups(py)[dy]} ( Σ_{kx ∈ groups(px)[dx]} w[co][ci][ky][kx] )
//! ```
//!
//! with both sums taken left to right in ascending order (a 2×2 group is
//! `(w[a][c] + w[a][d]) + (w[b][c] + w[b][d])`). This is exact in real arithmetic; in `f32`
//! the folded weights are rounded once per add ([`fold_kernel`]). Every layout below holds
//! those same values (`p = 2·py + px`, tap `t = 2·dy + dx`):
//!
//! | function | layout | read by |
//! |---|---|---|
//! | [`fold_phases`] | `[p][co][ci][t]` | decoder conv2's forward pass ([`super::decoder_conv2_forward`]) |
//! | [`fold_channel_minor`] | `[ci][p][t][co]` | decoder conv1's forward pass and its input gradient ([`super::decoder_conv1_forward`], [`super::decoder_conv1_input_grad`]) |
//! | [`transpose_fold_channel_minor`] | `[p][co][3 − t][ci]` (from [`fold_phases`]) | decoder conv2's input gradient ([`super::decoder_conv2_input_grad`]) |

use super::{ShapeMismatch, Weight};

/// Folded-weight length for all four phases.
pub(crate) fn fold_len(cin: usize, cout: usize) -> Option<usize> {
    cin.checked_mul(cout)?.checked_mul(16)
}

/// One `3 × 3` kernel folded into the four phase kernels `[p][dy · 2 + dx]` (`p = 2·py + px`).
#[inline(always)]
pub(crate) fn fold_kernel<W: Weight>(w: &[W; 9]) -> [[f32; 4]; 4] {
    // `groups` of the module documentation spelled out per phase, in the documented order;
    // the tests compare the result with a generic implementation of the definition.
    let [a, b, c, d, e, f, g, h, i] = w.map(Weight::value);
    [
        [a, b + c, d + g, (e + f) + (h + i)],
        [a + b, c, (d + e) + (g + h), f + i],
        [a + d, (b + c) + (e + f), g, h + i],
        [(a + b) + (d + e), c + f, g + h, i],
    ]
}

/// Folds the `[cout][cin][3][3]` weights into the four phase kernels, stored phase-major:
/// `folded[((py · 2 + px) · cout · cin + co · cin + ci) · 4 + dy · 2 + dx]`.
#[inline(always)]
pub(crate) fn fold_phases<W: Weight>(
    weights: &[W],
    folded: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let (src, rest) = weights.as_chunks::<9>();
    let n = src.len();
    let (dst, _) = folded
        .get_mut(..n.checked_mul(16).ok_or(ShapeMismatch)?)
        .ok_or(ShapeMismatch)?
        .as_chunks_mut::<4>();
    if !rest.is_empty() {
        return Err(ShapeMismatch);
    }
    let (p00, dst) = dst.split_at_mut_checked(n).ok_or(ShapeMismatch)?;
    let (p01, dst) = dst.split_at_mut_checked(n).ok_or(ShapeMismatch)?;
    let (p10, p11) = dst.split_at_mut_checked(n).ok_or(ShapeMismatch)?;
    let phases = p00
        .iter_mut()
        .zip(p01.iter_mut())
        .zip(p10.iter_mut().zip(p11.iter_mut()));
    for (((f00, f01), (f10, f11)), w) in phases.zip(src) {
        [*f00, *f01, *f10, *f11] = fold_kernel(w);
    }
    Ok(())
}

/// Folds the `[cout][cin][3][3]` weights into the four phase kernels, stored input-channel
/// major with the output channel innermost: `out[((ci · 4 + p) · 4 + dy · 2 + dx) · cout + co]`
/// (the values of [`fold_phases`], rearranged).
pub(crate) fn fold_channel_minor<W: Weight>(
    weights: &[W],
    cin: usize,
    cout: usize,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let n = cin.checked_mul(cout).ok_or(ShapeMismatch)?;
    let (src, rest) = weights.as_chunks::<9>();
    if src.len() != n || !rest.is_empty() {
        return Err(ShapeMismatch);
    }
    let block = cout.checked_mul(16).ok_or(ShapeMismatch)?;
    let out = out
        .get_mut(..n.checked_mul(16).ok_or(ShapeMismatch)?)
        .ok_or(ShapeMismatch)?;
    if block == 0 {
        return Ok(());
    }
    for (ci, dst) in out.chunks_exact_mut(block).enumerate() {
        for co in 0..cout {
            let w = src.get(co * cin + ci).ok_or(ShapeMismatch)?;
            for (t, v) in fold_kernel(w).as_flattened().iter().enumerate() {
                if let Some(d) = dst.get_mut(t * cout + co) {
                    *d = *v;
                }
            }
        }
    }
    Ok(())
}

/// Rearranges the phase-major folded kernels `fold[p][cout][cin][4]` (as [`fold_phases`]
/// writes them) into `out[(p · cout + co) · 4 + t][ci] = fold[p][co][ci][3 − t]`: each 2×2
/// kernel tap-reversed, the input channel innermost.
pub(crate) fn transpose_fold_channel_minor(
    fold: &[f32],
    cin: usize,
    cout: usize,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let n = fold_len(cin, cout).ok_or(ShapeMismatch)?;
    if cin == 0 {
        return Ok(());
    }
    let (src, _) = fold.get(..n).ok_or(ShapeMismatch)?.as_chunks::<4>();
    let out = out.get_mut(..n).ok_or(ShapeMismatch)?;
    // `src[q · cin + ci]` is the kernel of output plane `q = p · cout + co` for input
    // channel `ci`.
    for (i, taps) in src.iter().enumerate() {
        let (q, ci) = (i / cin, i % cin);
        for (t, &v) in taps.iter().rev().enumerate() {
            *out.get_mut((q * 4 + t) * cin + ci).ok_or(ShapeMismatch)? = v;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Rng;
    use super::*;

    /// `f[p][t]` of one kernel by the module documentation's generic definition.
    fn by_definition(w: &[f32; 9]) -> [[f32; 4]; 4] {
        let groups: [[&[usize]; 2]; 2] = [[&[0], &[1, 2]], [&[0, 1], &[2]]];
        let mut f = [[0.0; 4]; 4];
        for (p, fp) in f.iter_mut().enumerate() {
            let (py, px) = (p / 2, p % 2);
            for (t, ft) in fp.iter_mut().enumerate() {
                let (dy, dx) = (t / 2, t % 2);
                let row = |ky: usize| {
                    let cols = groups[px][dx].iter().map(|&kx| w[ky * 3 + kx]);
                    cols.reduce(|a, b| a + b).unwrap()
                };
                *ft = groups[py][dy]
                    .iter()
                    .map(|&ky| row(ky))
                    .reduce(|a, b| a + b)
                    .unwrap();
            }
        }
        f
    }

    #[test]
    fn every_layout_holds_the_documented_folded_values() {
        let mut rng = Rng(17);
        let (cin, cout) = (5, 3);
        let wt = rng.vec(cout * cin * 9);
        let mut phases = vec![f32::NAN; fold_len(cin, cout).unwrap()];
        fold_phases(&wt, &mut phases).unwrap();
        let mut minor = vec![f32::NAN; phases.len()];
        fold_channel_minor(&wt, cin, cout, &mut minor).unwrap();
        let mut reversed = vec![f32::NAN; phases.len()];
        transpose_fold_channel_minor(&phases, cin, cout, &mut reversed).unwrap();
        for co in 0..cout {
            for ci in 0..cin {
                let w: &[f32; 9] = wt[(co * cin + ci) * 9..][..9].try_into().unwrap();
                let f = by_definition(w);
                assert_eq!(fold_kernel(w), f);
                for (p, fp) in f.iter().enumerate() {
                    for (t, &v) in fp.iter().enumerate() {
                        let bits = v.to_bits();
                        let q = p * cout + co;
                        assert_eq!(phases[(q * cin + ci) * 4 + t].to_bits(), bits);
                        assert_eq!(minor[((ci * 4 + p) * 4 + t) * cout + co].to_bits(), bits);
                        assert_eq!(reversed[(q * 4 + 3 - t) * cin + ci].to_bits(), bits);
                    }
                }
            }
        }
    }

    #[test]
    fn short_buffers_are_errors() {
        let (cin, cout) = (2, 3);
        let wt = vec![0.0f32; cin * cout * 9];
        let n = fold_len(cin, cout).unwrap();
        let mut out = vec![0.0; n];
        assert!(fold_phases(&wt, &mut out[1..]).is_err());
        assert!(fold_phases(&wt[1..], &mut out).is_err());
        assert!(fold_channel_minor(&wt, cin, cout, &mut out[1..]).is_err());
        assert!(fold_channel_minor(&wt[9..], cin, cout, &mut out).is_err());
        let fold = vec![0.0; n];
        assert!(transpose_fold_channel_minor(&fold[1..], cin, cout, &mut out).is_err());
        assert!(transpose_fold_channel_minor(&fold, cin, cout, &mut out[1..]).is_err());
    }
}
