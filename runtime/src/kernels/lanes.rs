//! Fixed-lane reductions for sums that have no independent outputs to vectorise across.
//!
//! A sum `Σ_i t_i` over `n` terms is split into [`LANES`] = 8 partial sums: lane `l` starts at
//! `+0.0` and adds the terms with `i ≡ l (mod 8)` in ascending `i`. The lanes are then combined
//! by the fixed tree `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`.

use super::{ShapeMismatch, Weight};

/// Number of partial sums.
pub(crate) const LANES: usize = 8;

/// The fixed reduction tree.
#[inline(always)]
pub(crate) fn tree(l: [f32; LANES]) -> f32 {
    let [a, b, c, d, e, f, g, h] = l;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// `Σ (a_i − b_i)²` in the lane order, each term computed as `d = a − b; d · d`.
pub(crate) fn sum_sq_diff<W: Weight>(a: &[f32], b: &[W]) -> Result<f32, ShapeMismatch> {
    if a.len() != b.len() {
        return Err(ShapeMismatch);
    }
    let mut lanes = [0.0f32; LANES];
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    for (x, y) in ca.iter().zip(cb) {
        for ((l, &p), &q) in lanes.iter_mut().zip(x).zip(y) {
            let d = p - q.value();
            *l += d * d;
        }
    }
    for ((l, &p), &q) in lanes.iter_mut().zip(ra).zip(rb) {
        let d = p - q.value();
        *l += d * d;
    }
    Ok(tree(lanes))
}

/// `Σ w_i · g_i` in the lane order, each term computed as `w · g` (a dot product with no
/// independent outputs: the backward passes of the dense layers and of decoder conv1).
pub(crate) fn dot<W: Weight>(w: &[W], g: &[f32]) -> Result<f32, ShapeMismatch> {
    let [s] = dot_rows([w], g)?;
    Ok(s)
}

/// [`dot`] of four rows with the same `g`, each row in its own 8 lanes.
#[inline(always)]
pub(crate) fn dot4<W: Weight>(rows: [&[W]; 4], g: &[f32]) -> Result<[f32; 4], ShapeMismatch> {
    dot_rows(rows, g)
}

/// [`dot`] of `N` rows with the same `g`, each row in its own 8 lanes (independent
/// accumulators hide the add latency; each row's sum is the one [`dot`] defines).
#[inline(always)]
fn dot_rows<W: Weight, const N: usize>(
    rows: [&[W]; N],
    g: &[f32],
) -> Result<[f32; N], ShapeMismatch> {
    if rows.iter().any(|r| r.len() != g.len()) {
        return Err(ShapeMismatch);
    }
    let mut lanes = [[0.0f32; LANES]; N];
    let (cg, rg) = g.as_chunks::<LANES>();
    let split = rows.map(|r| r.as_chunks::<LANES>());
    for (k, y) in cg.iter().enumerate() {
        for (l, (c, _)) in lanes.iter_mut().zip(&split) {
            let x = c.get(k).ok_or(ShapeMismatch)?;
            for ((a, &p), &q) in l.iter_mut().zip(x).zip(y) {
                *a += p.value() * q;
            }
        }
    }
    for (l, (_, r)) in lanes.iter_mut().zip(&split) {
        for ((a, &p), &q) in l.iter_mut().zip(*r).zip(rg) {
            *a += p.value() * q;
        }
    }
    Ok(lanes.map(tree))
}

/// `Σ t_i` for the terms yielded by `terms`, in the lane order.
pub(crate) fn sum(terms: impl Iterator<Item = f32>) -> f32 {
    let mut lanes = [0.0f32; LANES];
    for (i, t) in terms.enumerate() {
        if let Some(l) = lanes.get_mut(i % LANES) {
            *l += t;
        }
    }
    tree(lanes)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Rng;
    use super::*;
    use std::vec::Vec;

    fn documented(t: &[f32]) -> f32 {
        let mut l = [0.0f32; 8];
        for (i, &v) in t.iter().enumerate() {
            l[i % 8] += v;
        }
        ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
    }

    #[test]
    fn lane_order_is_the_documented_one() {
        let mut rng = Rng(11);
        for n in 0..70 {
            let a = rng.vec(n);
            let b = rng.vec(n);
            let terms: Vec<f32> = a.iter().zip(&b).map(|(p, q)| (p - q) * (p - q)).collect();
            let got = sum_sq_diff(&a, &b).unwrap();
            assert_eq!(got.to_bits(), documented(&terms).to_bits());
            assert_eq!(sum(terms.iter().copied()).to_bits(), got.to_bits());
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(&p, &q)| (p as f64 - q as f64).powi(2))
                .sum();
            assert!((got as f64 - want).abs() <= 1e-5 * want.max(1.0));
        }
        assert!(sum_sq_diff(&[1.0], &[1.0f32, 2.0]).is_err());
    }

    #[test]
    fn dot_uses_the_lane_order() {
        let mut rng = Rng(12);
        for n in 0..70 {
            let a = rng.vec(n);
            let b = rng.vec(n);
            let terms: Vec<f32> = a.iter().zip(&b).map(|(p, q)| p * q).collect();
            let le: Vec<[u8; 4]> = a.iter().map(|v| v.to_le_bytes()).collect();
            let got = dot(&le, &b).unwrap();
            assert_eq!(got.to_bits(), documented(&terms).to_bits());
            let want: f64 = a.iter().zip(&b).map(|(&p, &q)| p as f64 * q as f64).sum();
            assert!((got as f64 - want).abs() <= 1e-5 * want.abs().max(1.0));
        }
        assert!(dot(&[1.0f32], &[1.0, 2.0]).is_err());
    }
}
