//! Copies contiguous `[c][h][w]` data into planes with another geometry (typically the
//! interior of zero-padded planes), applying an elementwise map on the way.

use super::{Planes, ShapeMismatch};

/// Writes `map(src[c][y][x])` to `dst` at `c · plane + y · row + x + origin`. Nothing else in
/// `dst` is written.
pub(crate) fn copy_into_planes(
    src: &[f32],
    channels: usize,
    h: usize,
    w: usize,
    dst: &mut [f32],
    geometry: Planes,
    map: impl Fn(f32) -> f32,
) -> Result<(), ShapeMismatch> {
    let n = channels
        .checked_mul(h)
        .and_then(|v| v.checked_mul(w))
        .ok_or(ShapeMismatch)?;
    let end = geometry.end(channels, h, w).ok_or(ShapeMismatch)?;
    if src.len() != n || end > dst.len() {
        return Err(ShapeMismatch);
    }
    if n == 0 {
        return Ok(());
    }
    for (i, row) in src.chunks_exact(w).enumerate() {
        let (c, y) = (i / h, i % h);
        let start = c * geometry.plane + y * geometry.row + geometry.origin;
        let d = dst.get_mut(start..start + w).ok_or(ShapeMismatch)?;
        for (o, &v) in d.iter_mut().zip(row) {
            *o = map(v);
        }
    }
    Ok(())
}

/// Sets the one-element border of `channels` zero-padded `(h + 2) × (w + 2)` planes (stored
/// one after the other from index 0) to `+0.0`; the interior is not touched.
pub(crate) fn zero_border(
    buf: &mut [f32],
    channels: usize,
    h: usize,
    w: usize,
) -> Result<(), ShapeMismatch> {
    let wp = w.checked_add(2).ok_or(ShapeMismatch)?;
    let plane = h
        .checked_add(2)
        .and_then(|hp| hp.checked_mul(wp))
        .ok_or(ShapeMismatch)?;
    let needed = channels.checked_mul(plane).ok_or(ShapeMismatch)?;
    let buf = buf.get_mut(..needed).ok_or(ShapeMismatch)?;
    if plane == 0 {
        return Ok(());
    }
    for p in buf.chunks_exact_mut(plane) {
        let (top, rest) = p.split_at_mut_checked(wp).ok_or(ShapeMismatch)?;
        top.fill(0.0);
        let (middle, bottom) = rest.split_at_mut_checked(h * wp).ok_or(ShapeMismatch)?;
        bottom.fill(0.0);
        for row in middle.chunks_exact_mut(wp) {
            if let [first, .., last] = row {
                *first = 0.0;
                *last = 0.0;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn copies_into_padded_interior() {
        let src: Vec<f32> = (0..12).map(|v| v as f32 - 5.0).collect();
        let g = Planes {
            plane: 16,
            row: 4,
            origin: 5,
        };
        let mut dst = vec![0.0; 32];
        copy_into_planes(&src[..8], 2, 2, 2, &mut dst, g, |v| v * 2.0).unwrap();
        assert_eq!(
            &dst[..16],
            &[0., 0., 0., 0., 0., -10., -8., 0., 0., -6., -4., 0., 0., 0., 0., 0.]
        );
        assert_eq!(&dst[21..23], &[-2.0, 0.0]);
        assert!(copy_into_planes(&src[..8], 2, 2, 2, &mut dst[..26], g, |v| v).is_err());
    }

    #[test]
    fn zero_border_clears_only_the_ring() {
        let mut buf = vec![1.0; 2 * 4 * 5 + 3];
        zero_border(&mut buf, 2, 2, 3).unwrap();
        let plane: Vec<f32> = vec![
            0., 0., 0., 0., 0., //
            0., 1., 1., 1., 0., //
            0., 1., 1., 1., 0., //
            0., 0., 0., 0., 0.,
        ];
        assert_eq!(&buf[..20], &plane[..]);
        assert_eq!(&buf[20..40], &plane[..]);
        assert_eq!(&buf[40..], &[1.0; 3]);
        assert!(zero_border(&mut buf[..39], 2, 2, 3).is_err());
    }
}
