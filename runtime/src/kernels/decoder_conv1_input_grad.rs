//! Decoder conv1's input gradient (reclassification's backward pass), computed only where the
//! ReLU in front of it — decoder fc2's — was active.
//!
//! Forward ([`super::decoder_conv1_forward`]), output pixel `(2y' + py, 2x' + px)` of channel `co`
//! adds `f[ci][p][dy][dx][co] · in[ci][y' + py + dy][x' + px + dx]` (padded input
//! coordinates, `p = 2·py + px`, `t = 2·dy + dx`). So the gradient with respect to interior
//! input pixel `(y, x)` — padded `(y + 1, x + 1)` — of channel `ci` has one term per phase,
//! tap and output channel:
//!
//! ```text
//! ∂L/∂in[ci][y][x] = Σ_{k = (p·4 + t)·cout + co}  f[ci][p][t][co] · G_p[co][y + 1 − py − dy][x + 1 − px − dx]
//! ```
//!
//! where `G_p[co][y'][x']` is the output gradient at `(2y' + py, 2x' + px)` (zero outside
//! the map). The sum is taken in the fixed 8-lane order of [`super::lanes`] over `k`, and
//! only where the forward ReLU output `saved[ci][y][x]` is positive: elsewhere the gradient
//! is `+0.0` without a sum. Behind that ReLU about three quarters of the inputs are zero on
//! the paper's MNIST model, so this skips three quarters of the work a dense correlation
//! would do. The kernel rows are the forward pass's folded weights, which are stored with
//! `k` contiguous for each `ci` ([`super::folded_weights::fold_channel_minor`]).
//!
//! The output gradient arrives in a *phase grid* ([`super::decoder_conv2_input_grad`] writes
//! it; [`super::phase_planes_len`] values), laid out
//! so that the `cout` values of one `(p, t)` are contiguous: `G_p[co][y'][x']` at
//! `((p · (h + 2) + y' + py) · (w + 2) + x' + px) · cout + co`. Input pixel `(y, x)` then
//! reads, for every `(p, t)`, the `cout` values at grid cell `(y + 1 − dy, x + 1 − dx)` of
//! phase `p` — the same cell for all four phases.

use super::lanes::dot4;
use super::{index_slot, phase_planes_len, slot_index, MaskedInputGrad, ShapeMismatch};

/// Scratch of [`active_grad`]: `terms` needs `16 · cout` entries, `active` needs `cin`.
pub(crate) struct ActiveScratch<'a> {
    /// One input position's gradient terms, in `k` order.
    pub terms: &'a mut [f32],
    /// Its active input channels ([`super::index_slot`]).
    pub active: &'a mut [f32],
}

/// Writes the masked input gradient to `out` as dense `[cin][h][w]`; `op.grad` is the phase
/// grid of the output gradient and `op.kernel` the forward pass's folded kernel (module
/// documentation).
#[inline(always)]
pub(crate) fn active_grad(
    op: &MaskedInputGrad<'_>,
    scratch: ActiveScratch<'_>,
    out: &mut [f32],
) -> Result<(), ShapeMismatch> {
    let &MaskedInputGrad {
        grad,
        kernel,
        saved,
        cin,
        cout,
        h,
        w,
    } = op;
    let (wp, hp) = (
        w.checked_add(2).ok_or(ShapeMismatch)?,
        h.checked_add(2).ok_or(ShapeMismatch)?,
    );
    let plane = hp.checked_mul(wp);
    let row_len = cout.checked_mul(16).ok_or(ShapeMismatch)?;
    let shapes_ok = phase_planes_len(cout, h, w) == Some(grad.len())
        && plane.and_then(|p| p.checked_mul(cin)) == Some(saved.len())
        && cin.checked_mul(row_len) == Some(kernel.len())
        && scratch.terms.len() >= row_len
        && scratch.active.len() >= cin
        && cin.checked_mul(h).and_then(|v| v.checked_mul(w)) == Some(out.len());
    if !shapes_ok {
        return Err(ShapeMismatch);
    }
    let plane = plane.ok_or(ShapeMismatch)?;
    let terms = scratch.terms.get_mut(..row_len).ok_or(ShapeMismatch)?;
    let row = |ci: usize| {
        kernel
            .get(ci * row_len..(ci + 1) * row_len)
            .ok_or(ShapeMismatch)
    };
    for y in 0..h {
        for x in 0..w {
            // The active channels, listed branch-free; every channel's gradient starts as +0.0.
            let mut n = 0usize;
            for ci in 0..cin {
                let s = *saved
                    .get(ci * plane + (y + 1) * wp + x + 1)
                    .ok_or(ShapeMismatch)?;
                *out.get_mut((ci * h + y) * w + x).ok_or(ShapeMismatch)? = 0.0;
                if let Some(a) = scratch.active.get_mut(n) {
                    *a = index_slot(ci);
                }
                n += usize::from(s > 0.0);
            }
            if n == 0 {
                continue;
            }
            gather_terms(grad, (hp, wp, cout), (y, x), terms)?;
            let active = scratch.active.get(..n).ok_or(ShapeMismatch)?;
            // Four channels at a time; a short last group repeats its first channel (each
            // row's sum is its own, so the repeats are computed and dropped).
            for group in active.chunks(4) {
                let first = group.first().map_or(0, |&s| slot_index(s));
                let ci = [0, 1, 2, 3].map(|k| group.get(k).map_or(first, |&s| slot_index(s)));
                let sums = dot4([row(ci[0])?, row(ci[1])?, row(ci[2])?, row(ci[3])?], terms)?;
                for (&c, s) in ci.iter().zip(sums).take(group.len()) {
                    *out.get_mut((c * h + y) * w + x).ok_or(ShapeMismatch)? = s;
                }
            }
        }
    }
    Ok(())
}

/// Copies the `16 · cout` gradient terms input pixel `(y, x)` reads into `terms`, in `k`
/// order: for phase `p` and tap `t = 2·dy + dx`, the `cout` values of grid cell
/// `(y + 1 − dy, x + 1 − dx)`.
#[inline(always)]
fn gather_terms(
    grad: &[f32],
    (hp, wp, cout): (usize, usize, usize),
    (y, x): (usize, usize),
    terms: &mut [f32],
) -> Result<(), ShapeMismatch> {
    if cout == 0 {
        return Ok(());
    }
    for (k, dst) in terms.chunks_exact_mut(cout).enumerate() {
        let (p, dy, dx) = (k / 4, (k % 4) / 2, k % 2);
        let cell = (p * hp + y + 1 - dy) * wp + x + 1 - dx;
        let src = grad
            .get(cell * cout..(cell + 1) * cout)
            .ok_or(ShapeMismatch)?;
        dst.copy_from_slice(src);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::folded_weights::{fold_channel_minor, fold_len};
    use super::super::reference::upsample_conv3x3_input_grad;
    use super::super::testutil::{assert_close, pad, Rng};
    use super::*;
    use std::vec::Vec;

    /// f64 reference: the input gradient of "upsample 2×, conv 3×3 (zero padding 1)" for
    /// output gradient `go` (`cout × 2h × 2w`), masked where `saved` (unpadded) is not > 0.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        go: &[f32],
        wt: &[f32],
        saved: &[f32],
        cin: usize,
        cout: usize,
        h: usize,
        w: usize,
    ) -> Vec<f64> {
        let mut gin = upsample_conv3x3_input_grad(go, cin, h, w, wt, cout);
        for (g, &s) in gin.iter_mut().zip(saved) {
            if s <= 0.0 {
                *g = 0.0;
            }
        }
        gin
    }

    /// The phase grid (module documentation) of the dense `cout × 2h × 2w` gradient `go`.
    fn grid_of(go: &[f32], cout: usize, h: usize, w: usize) -> Vec<f32> {
        let mut grid = vec![0.0; phase_planes_len(cout, h, w).unwrap()];
        for co in 0..cout {
            for yy in 0..2 * h {
                for xx in 0..2 * w {
                    let p = (yy % 2) * 2 + xx % 2;
                    let cell = (p * (h + 2) + yy / 2 + yy % 2) * (w + 2) + xx / 2 + xx % 2;
                    grid[cell * cout + co] = go[(co * 2 * h + yy) * 2 * w + xx];
                }
            }
        }
        grid
    }

    struct Case {
        got: Vec<f32>,
        go: Vec<f32>,
        wt: Vec<f32>,
        saved: Vec<f32>,
    }

    fn run(rng: &mut Rng, cin: usize, cout: usize, h: usize, w: usize, share: f32) -> Case {
        let wt = rng.vec(cout * cin * 9);
        let saved = rng.relu_like(cin * h * w, share);
        let go = rng
            .relu_like(cout * 4 * h * w, 0.4)
            .iter()
            .map(|v| v * if rng.sym() < 0.0 { -1.0 } else { 1.0 })
            .collect::<Vec<f32>>();
        let grid = grid_of(&go, cout, h, w);
        let mut kernel = vec![f32::NAN; fold_len(cin, cout).unwrap()];
        fold_channel_minor(&wt, cin, cout, &mut kernel).unwrap();
        let saved_pad = pad(&saved, cin, h, w);
        let op = MaskedInputGrad {
            grad: &grid,
            kernel: &kernel,
            saved: &saved_pad,
            cin,
            cout,
            h,
            w,
        };
        let (mut terms, mut active) = (vec![0.0; 16 * cout], vec![0.0; cin]);
        let mut got = vec![f32::NAN; cin * h * w];
        let scratch = ActiveScratch {
            terms: &mut terms,
            active: &mut active,
        };
        active_grad(&op, scratch, &mut got).unwrap();
        Case { got, go, wt, saved }
    }

    #[test]
    fn matches_the_chain_rule_where_active_and_is_zero_elsewhere() {
        let mut rng = Rng(41);
        for case in 0..40 {
            let (cin, cout) = (1 + rng.below(11), 1 + rng.below(13));
            let (h, w) = (1 + rng.below(6), 1 + rng.below(7));
            let share = [0.0, 0.5, 0.75, 1.0][case % 4];
            let c = run(&mut rng, cin, cout, h, w, share);
            let want = reference(&c.go, &c.wt, &c.saved, cin, cout, h, w);
            assert_close(&c.got, &want, 1e-4);
            for (g, &s) in c.got.iter().zip(&c.saved) {
                if s <= 0.0 {
                    assert_eq!(g.to_bits(), 0.0f32.to_bits());
                }
            }
        }
    }

    #[test]
    fn sums_in_the_documented_lane_order() {
        // One active channel's gradient, recomputed from the module documentation's formula
        // term by term in the lane order.
        let mut rng = Rng(43);
        let (cin, cout, h, w) = (5, 9, 3, 4);
        let c = run(&mut rng, cin, cout, h, w, 0.5);
        let mut f = vec![0.0; fold_len(cin, cout).unwrap()];
        fold_channel_minor(&c.wt, cin, cout, &mut f).unwrap();
        for ci in 0..cin {
            for y in 0..h {
                for x in 0..w {
                    if c.saved[(ci * h + y) * w + x] <= 0.0 {
                        continue;
                    }
                    let mut terms = Vec::new();
                    for p in 0..4 {
                        let (py, px) = (p / 2, p % 2);
                        for t in 0..4 {
                            let (dy, dx) = (t / 2, t % 2);
                            for co in 0..cout {
                                let yo = (y + 1) as isize - (py + dy) as isize;
                                let xo = (x + 1) as isize - (px + dx) as isize;
                                let g = if yo < 0 || xo < 0 || yo >= h as isize || xo >= w as isize
                                {
                                    0.0
                                } else {
                                    let (yy, xx) = (2 * yo as usize + py, 2 * xo as usize + px);
                                    c.go[(co * 2 * h + yy) * 2 * w + xx]
                                };
                                terms.push(f[((ci * 4 + p) * 4 + t) * cout + co] * g);
                            }
                        }
                    }
                    let want = super::super::lanes::sum(terms.into_iter());
                    assert_eq!(c.got[(ci * h + y) * w + x].to_bits(), want.to_bits());
                }
            }
        }
    }

    #[test]
    fn short_buffers_are_errors() {
        let (cin, cout, h, w) = (2, 3, 2, 2);
        let grid = vec![0.0; phase_planes_len(cout, h, w).unwrap()];
        let kernel = vec![0.0; cin * cout * 16];
        let saved = vec![1.0; cin * 16];
        let attempt =
            |grid: &[f32], kernel: &[f32], saved: &[f32], t: usize, a: usize, o: usize| {
                let op = MaskedInputGrad {
                    grad: grid,
                    kernel,
                    saved,
                    cin,
                    cout,
                    h,
                    w,
                };
                let (mut terms, mut active) = (vec![0.0; t], vec![0.0; a]);
                let scratch = ActiveScratch {
                    terms: &mut terms,
                    active: &mut active,
                };
                active_grad(&op, scratch, &mut vec![0.0; o])
            };
        let (t, a, o) = (16 * cout, cin, cin * h * w);
        assert!(attempt(&grid, &kernel, &saved, t, a, o).is_ok());
        assert!(attempt(&grid[1..], &kernel, &saved, t, a, o).is_err());
        assert!(attempt(&grid, &kernel[1..], &saved, t, a, o).is_err());
        assert!(attempt(&grid, &kernel, &saved[1..], t, a, o).is_err());
        assert!(attempt(&grid, &kernel, &saved, t - 1, a, o).is_err());
        assert!(attempt(&grid, &kernel, &saved, t, a - 1, o).is_err());
        assert!(attempt(&grid, &kernel, &saved, t, a, o - 1).is_err());
    }
}
