//! Where every buffer lives in the caller's workspace (the `&mut [f32]` every entry point takes).
//!
//! All offsets are computed here, once per model (in [`crate::Model::parse`]), with checked
//! arithmetic; the forward pass only asks for the spans by name. Buffers whose lifetimes do
//! not overlap share a region:
//!
//! | region | holds, in pass order |
//! |---|---|
//! | `small` | `h1` (enc. hidden), `z`, `dh` (dec. hidden), `sparse_vals`/`sparse_idx` (compacted small dense inputs) |
//! | `ping` | `in_pad` → `p1_pad` → `flat` → `d_pad` → `recon` |
//! | `pong` | `c1_out` → `c2_out` → `flat_vals`/`flat_idx` (compacted `flat`) → `dflat` → `fold` (folded decoder kernels, all four phases) |
//! | `tmp` | `conv1_values`/`conv1_offsets`/`conv1_starts` (the decoder's first convolution's non-zero inputs) → one phase of the second's output |
//! | `u_pad` | the decoder's first convolution's output, padded |
//!
//! Reclassification (gradient descent on `z` through the decoder, `crate::reclassify`) uses
//! every classify region (the decoder's convolutions save their activations there: `d_pad`,
//! `u_pad`) plus the regions of [`Reclass`], appended after `classify_len`, so the
//! classification offsets do not move:
//!
//! | region | holds, in pass order |
//! |---|---|
//! | `recon` | the reconstruction `g(z)` of the current start's iterate |
//! | `go` | output-gradient phase planes of decoder conv2 |
//! | `g1` | the phase grid of decoder conv1's output gradient (conv2's input gradient through conv1's ReLU) |
//! | `terms`, `active` | one input position's conv1 output-gradient terms and its active input channels |
//! | `gz`, `z_win` | one start's `∂L/∂z`; the winning iterate |
//! | `k1`, `k2` | decoder conv1's folded kernel (its forward and backward pass read it), conv2's tap-reversed channel-minor one for its input gradient |
//! | [`Bank`] | per start of a lockstep group: `z`, Adam's `m` and `v`, `z_best`, fc1's output `h1` and its compacted list, `∂L/∂h1`, fc2's output then `∂L/∂a2` — [`Reclass::stride`] `f32`s per start, as many starts as the caller's workspace holds |
//!
//! Plane conventions: a *padded* plane of an `h × w` map is `(h + 2) × (w + 2)` with a zero
//! border; a *flat conv output* plane is `h × (w + 2)` (see `kernels::conv3x3`).

use core::ops::Range;

use gmvae_format::Architecture;

use crate::kernels::decoder_conv1_forward::starts_len;
use crate::kernels::folded_weights::fold_len;
use crate::kernels::{phase_planes_len, Planes};

/// A `[start, start + len)` span of the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// First element.
    pub start: usize,
    /// Number of elements.
    pub len: usize,
}

impl Span {
    /// The span as a range (valid: `start + len` was checked when the layout was built).
    pub(crate) fn range(self) -> Range<usize> {
        self.start..self.start.saturating_add(self.len)
    }
}

/// Sizes of the feature maps, derived from the architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub c1: usize,
    pub c2: usize,
    pub hidden: usize,
    pub latent: usize,
    pub classes: usize,
    /// `H / 2`, `W / 2`.
    pub h2: usize,
    pub w2: usize,
    /// `H / 4`, `W / 4`.
    pub h4: usize,
    pub w4: usize,
    /// `c2 · h4 · w4`.
    pub flat: usize,
    /// `c · h · w`.
    pub pixels: usize,
}

impl Dims {
    pub(crate) fn new(a: &Architecture) -> Option<Self> {
        let (h, w) = (a.height, a.width);
        if h == 0 || w == 0 || !h.is_multiple_of(4) || !w.is_multiple_of(4) {
            return None;
        }
        let (h4, w4) = (h / 4, w / 4);
        Some(Self {
            c: a.in_channels,
            h,
            w,
            c1: a.conv1,
            c2: a.conv2,
            hidden: a.hidden,
            latent: a.latent,
            classes: a.classes,
            h2: h / 2,
            w2: w / 2,
            h4,
            w4,
            flat: a.conv2.checked_mul(h4)?.checked_mul(w4)?,
            pixels: a.in_channels.checked_mul(h)?.checked_mul(w)?,
        })
    }

    /// Geometry of `channels` zero-padded planes of an `h × w` map, addressing the interior.
    pub(crate) fn padded(h: usize, w: usize) -> Option<Planes> {
        let row = w.checked_add(2)?;
        Some(Planes {
            plane: h.checked_add(2)?.checked_mul(row)?,
            row,
            origin: row.checked_add(1)?,
        })
    }

    /// Geometry of flat conv output planes of an `h × w` map.
    pub(crate) fn flat_out(h: usize, w: usize) -> Option<Planes> {
        let row = w.checked_add(2)?;
        Some(Planes {
            plane: h.checked_mul(row)?,
            row,
            origin: 0,
        })
    }

    /// Geometry of dense `[c][h][w]` planes.
    pub(crate) fn dense(h: usize, w: usize) -> Option<Planes> {
        Some(Planes {
            plane: h.checked_mul(w)?,
            row: w,
            origin: 0,
        })
    }
}

/// Offsets of every buffer `classify`, `encode` and `decode_into` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub dims: Dims,
    pub h1: Span,
    pub z: Span,
    pub dh: Span,
    pub sparse_vals: Span,
    pub sparse_idx: Span,
    pub in_pad: Span,
    pub p1_pad: Span,
    pub flat: Span,
    pub d_pad: Span,
    pub recon: Span,
    pub c1_out: Span,
    pub c2_out: Span,
    pub flat_vals: Span,
    pub flat_idx: Span,
    pub dflat: Span,
    pub fold: Span,
    pub tmp: Span,
    pub conv1_values: Span,
    pub conv1_offsets: Span,
    pub conv1_starts: Span,
    pub u_pad: Span,
    /// `f32`s needed by `classify` (and by `encode` and `decode_into`).
    pub classify_len: usize,
    /// The regions only reclassification uses, after `classify_len`.
    pub rc: Reclass,
}

/// Offsets of the reclassification regions (all at or after `classify_len`): the fixed
/// regions one start at a time uses, then the [`Bank`] of the starts that run in lockstep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reclass {
    pub recon: Span,
    pub go: Span,
    pub g1: Span,
    pub terms: Span,
    pub active: Span,
    pub gz: Span,
    pub z_win: Span,
    pub k1: Span,
    pub k2: Span,
    /// End of the fixed regions, where the bank starts.
    pub len: usize,
    /// `f32`s of bank per lockstep start.
    pub stride: usize,
}

impl Reclass {
    /// Appends the reclassification regions to `bump` (which stands at `classify_len`).
    fn new(d: &Dims, bump: &mut Bump) -> Option<Self> {
        let recon = bump.take(d.pixels)?;
        let go = bump.take(phase_planes_len(d.c, d.h2, d.w2)?)?;
        let g1 = bump.take(phase_planes_len(d.c1, d.h4, d.w4)?)?;
        let terms = bump.take(d.c1.checked_mul(16)?)?;
        let active = bump.take(d.c2)?;
        let gz = bump.take(d.latent)?;
        let z_win = bump.take(d.latent)?;
        let k1 = bump.take(fold_len(d.c2, d.c1)?)?;
        let k2 = bump.take(fold_len(d.c1, d.c)?)?;
        let len = bump.0;
        let stride = d
            .latent
            .checked_mul(4)?
            .checked_add(d.hidden.checked_mul(4)?)?
            .checked_add(d.flat)?;
        // A bank of one start per class must be addressable too (in bytes).
        let full = len.checked_add(stride.checked_mul(d.classes)?)?;
        full.checked_mul(core::mem::size_of::<f32>())?;
        Some(Self {
            recon,
            go,
            g1,
            terms,
            active,
            gz,
            z_win,
            k1,
            k2,
            len,
            stride,
        })
    }

    /// `f32`s needed with `width` starts in lockstep (`width ≤ classes` cannot overflow:
    /// checked when the layout was built).
    pub(crate) fn len_for(&self, width: usize) -> usize {
        self.len.saturating_add(self.stride.saturating_mul(width))
    }
}

/// The per-start regions of `width` starts that run in lockstep, each region `width` rows
/// of one start's values, after the fixed reclassification regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bank {
    /// Starts in the bank.
    pub width: usize,
    /// Current iterates, `latent` each.
    pub z: Span,
    /// Adam's first moments.
    pub m: Span,
    /// Adam's second moments.
    pub v: Span,
    /// Each start's best iterate so far.
    pub z_best: Span,
    /// Decoder fc1's ReLU output, `hidden` each (fc2's input, and its ReLU mask).
    pub h1: Span,
    /// `h1`'s non-zero values, listed (fc2's compacted input).
    pub vals: Span,
    /// Their indices.
    pub idx: Span,
    /// `∂L/∂h1`.
    pub gh1: Span,
    /// Decoder fc2's output, then `∂L/∂a2`, `flat` each.
    pub a2: Span,
}

impl Bank {
    /// The bank of `width` starts of the layout `l` (`width ≤ classes`).
    pub(crate) fn new(l: &Layout, width: usize) -> Option<Self> {
        let d = &l.dims;
        let mut bump = Bump(l.rc.len);
        let mut rows = |len: usize| bump.take(len.checked_mul(width)?);
        Some(Self {
            width,
            z: rows(d.latent)?,
            m: rows(d.latent)?,
            v: rows(d.latent)?,
            z_best: rows(d.latent)?,
            h1: rows(d.hidden)?,
            vals: rows(d.hidden)?,
            idx: rows(d.hidden)?,
            gh1: rows(d.hidden)?,
            a2: rows(d.flat)?,
        })
    }

    /// Start `s`'s row of `region` (one of this bank's spans).
    pub(crate) fn row(&self, region: Span, s: usize) -> Span {
        let len = region.len / self.width.max(1);
        Span {
            start: region.start.saturating_add(s.saturating_mul(len)),
            len,
        }
    }
}

/// Hands out consecutive spans with checked arithmetic.
struct Bump(usize);

impl Bump {
    fn take(&mut self, len: usize) -> Option<Span> {
        let start = self.0;
        self.0 = start.checked_add(len)?;
        Some(Span { start, len })
    }
}

/// Number of elements of `n` planes of geometry `p`.
fn planes(n: usize, p: Option<Planes>) -> Option<usize> {
    n.checked_mul(p?.plane)
}

fn max(values: &[Option<usize>]) -> Option<usize> {
    values.iter().try_fold(0usize, |m, v| Some(m.max((*v)?)))
}

impl Layout {
    /// Computes the layout, or `None` if a size overflows `usize` (or in bytes).
    pub(crate) fn new(a: &Architecture) -> Option<Self> {
        let d = Dims::new(a)?;
        let mut bump = Bump(0);

        // small: dense-layer vectors.
        let sparse_len = d.hidden.max(d.latent);
        let h1 = bump.take(d.hidden)?;
        let z = bump.take(d.latent)?;
        let dh = bump.take(d.hidden)?;
        let sparse_vals = bump.take(sparse_len)?;
        let sparse_idx = bump.take(sparse_len)?;

        // ping.
        let in_pad_len = planes(d.c, Dims::padded(d.h, d.w))?;
        let p1_pad_len = planes(d.c1, Dims::padded(d.h2, d.w2))?;
        let d_pad_len = planes(d.c2, Dims::padded(d.h4, d.w4))?;
        let ping_len = max(&[
            Some(in_pad_len),
            Some(p1_pad_len),
            Some(d.flat),
            Some(d_pad_len),
            Some(d.pixels),
        ])?;
        let ping = bump.take(ping_len)?;

        // pong.
        let c1_out_len = planes(d.c1, Dims::flat_out(d.h, d.w))?;
        let c2_out_len = planes(d.c2, Dims::flat_out(d.h2, d.w2))?;
        let fold_len = max(&[fold_len(d.c2, d.c1), fold_len(d.c1, d.c)])?;
        let pong_len = max(&[
            Some(c1_out_len),
            Some(c2_out_len),
            d.flat.checked_mul(2),
            Some(fold_len),
        ])?;
        let pong = bump.take(pong_len)?;

        let lists_len = d
            .flat
            .checked_mul(2)?
            .checked_add(starts_len(d.h4, d.w4)?)?;
        let tmp_len = max(&[planes(d.c, Dims::flat_out(d.h2, d.w2)), Some(lists_len)])?;
        let tmp = bump.take(tmp_len)?;
        let u_pad = bump.take(planes(d.c1, Dims::padded(d.h2, d.w2))?)?;

        let classify_len = bump.0;
        // Everything must also be addressable in bytes.
        classify_len.checked_mul(core::mem::size_of::<f32>())?;
        let rc = Reclass::new(&d, &mut bump)?;

        let at = |region: Span, offset: usize, len: usize| Span {
            start: region.start + offset,
            len,
        };
        Some(Self {
            dims: d,
            h1,
            z,
            dh,
            sparse_vals,
            sparse_idx,
            in_pad: at(ping, 0, in_pad_len),
            p1_pad: at(ping, 0, p1_pad_len),
            flat: at(ping, 0, d.flat),
            d_pad: at(ping, 0, d_pad_len),
            recon: at(ping, 0, d.pixels),
            c1_out: at(pong, 0, c1_out_len),
            c2_out: at(pong, 0, c2_out_len),
            flat_vals: at(pong, 0, d.flat),
            flat_idx: at(pong, d.flat, d.flat),
            dflat: at(pong, 0, d.flat),
            fold: at(pong, 0, fold_len),
            tmp,
            conv1_values: at(tmp, 0, d.flat),
            conv1_offsets: at(tmp, d.flat, d.flat),
            conv1_starts: at(tmp, 2 * d.flat, lists_len - 2 * d.flat),
            u_pad,
            classify_len,
            rc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_layout_is_consistent() {
        let l = Layout::new(&Architecture::MNIST_PAPER).unwrap();
        let all = [
            l.h1,
            l.z,
            l.dh,
            l.sparse_vals,
            l.sparse_idx,
            l.in_pad,
            l.p1_pad,
            l.flat,
            l.d_pad,
            l.recon,
            l.c1_out,
            l.c2_out,
            l.flat_vals,
            l.flat_idx,
            l.dflat,
            l.fold,
            l.tmp,
            l.u_pad,
        ];
        for s in all {
            assert!(s.start + s.len <= l.classify_len);
        }
        // Buffers that are live at the same time do not overlap.
        let disjoint = |a: Span, b: Span| a.start + a.len <= b.start || b.start + b.len <= a.start;
        for (a, b) in [
            (l.in_pad, l.c1_out),
            (l.c1_out, l.p1_pad),
            (l.p1_pad, l.c2_out),
            (l.c2_out, l.flat),
            (l.flat, l.flat_vals),
            (l.flat, l.flat_idx),
            (l.flat_vals, l.flat_idx),
            (l.flat_vals, l.h1),
            (l.dflat, l.d_pad),
            (l.d_pad, l.fold),
            (l.d_pad, l.tmp),
            (l.d_pad, l.u_pad),
            (l.fold, l.tmp),
            (l.fold, l.u_pad),
            (l.tmp, l.u_pad),
            (l.u_pad, l.recon),
            (l.fold, l.recon),
            (l.tmp, l.recon),
            (l.z, l.recon),
        ] {
            assert!(disjoint(a, b), "{a:?} {b:?}");
        }
        assert_eq!(l.flat.len, 64 * 7 * 7);
    }

    #[test]
    fn reclassify_regions_follow_the_classify_regions() {
        let l = Layout::new(&Architecture::MNIST_PAPER).unwrap();
        let r = l.rc;
        let all = [
            r.recon, r.go, r.g1, r.terms, r.active, r.gz, r.z_win, r.k1, r.k2,
        ];
        for s in all {
            assert!(
                s.start >= l.classify_len && s.start + s.len <= r.len,
                "{s:?}"
            );
        }
        let disjoint = |a: Span, b: Span| a.start + a.len <= b.start || b.start + b.len <= a.start;
        // The fixed regions are all disjoint, and so are the bank's.
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert!(disjoint(*a, *b), "{a:?} {b:?}");
            }
        }
        let bank = Bank::new(&l, 3).unwrap();
        let rows = [
            bank.z,
            bank.m,
            bank.v,
            bank.z_best,
            bank.h1,
            bank.vals,
            bank.idx,
            bank.gh1,
            bank.a2,
        ];
        for (i, a) in rows.iter().enumerate() {
            assert!(a.start >= r.len && a.start + a.len <= r.len_for(3));
            for b in &rows[i + 1..] {
                assert!(disjoint(*a, *b), "{a:?} {b:?}");
            }
        }
        assert_eq!(bank.row(bank.a2, 2).len, 64 * 7 * 7);
        assert_eq!(
            bank.row(bank.a2, 2).start + 3136,
            bank.a2.start + bank.a2.len
        );
        assert_eq!(r.k1.len, 64 * 32 * 16);
        assert_eq!(r.go.len, 4 * 16 * 16);
        assert_eq!(r.g1.len, 4 * 32 * 9 * 9);
    }

    #[test]
    fn bad_or_huge_architectures_have_no_layout() {
        let mut a = Architecture::MNIST_PAPER;
        a.height = 30;
        assert!(Layout::new(&a).is_none());
        a.height = 28;
        a.conv1 = usize::MAX / 2;
        assert!(Layout::new(&a).is_none());
    }
}
