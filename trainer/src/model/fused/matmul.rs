//! The matrix products of the fused layers: a bounds-checked front end over the `gemm` crate,
//! the kernels dfdx's own CPU matmul runs (runtime-detected SIMD), on one thread (the
//! data-parallel shards are the parallelism).

/// A read-only matrix: `rows × cols` values of `data`, element `(i, j)` at
/// `i * row_stride + j * col_stride`. A transpose is the same data with the strides swapped.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// The row-major `rows × cols` matrix `data`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// The transpose of the row-major `cols × rows` matrix `data`, i.e. `rows × cols`.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, 1, rows)
    }

    /// Element `(i, j)` at `i * row_stride + j * col_stride`; panics unless every element
    /// lies inside `data` (an internal invariant of the layer code, never input-dependent).
    pub fn strided(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Self {
        assert!(
            fits(data.len(), rows, cols, row_stride, col_stride),
            "matrix {rows}×{cols} (strides {row_stride}, {col_stride}) outside {} values",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }
}

/// Whether every element of a `rows × cols` matrix with these strides lies below `len`.
fn fits(len: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    if rows == 0 || cols == 0 {
        return true;
    }
    let last = (rows - 1).checked_mul(row_stride).and_then(|r| {
        (cols - 1)
            .checked_mul(col_stride)
            .and_then(|c| r.checked_add(c))
    });
    last.is_some_and(|last| last < len)
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` with `accumulate`), `dst` row-major
/// `lhs.rows × rhs.cols`. Panics on mismatched sizes (an internal invariant).
pub fn matmul(dst: &mut [f32], lhs: MatRef<'_>, rhs: MatRef<'_>, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "inner dimensions differ");
    assert_eq!(dst.len(), m * n, "destination is not {m}×{n}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // SAFETY: `dst` holds exactly `m × n` values (row stride n, column stride 1), and the
    // constructors of `MatRef` checked that every element of `lhs` (m × k) and `rhs` (k × n)
    // lies inside its slice; `dst` is a unique borrow, so it aliases neither operand.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(lhs: MatRef<'_>, rhs: MatRef<'_>) -> Vec<f32> {
        let at = |m: &MatRef<'_>, i: usize, j: usize| m.data[i * m.row_stride + j * m.col_stride];
        let mut out = vec![0.0; lhs.rows * rhs.cols];
        for i in 0..lhs.rows {
            for j in 0..rhs.cols {
                out[i * rhs.cols + j] =
                    (0..lhs.cols).map(|k| at(&lhs, i, k) * at(&rhs, k, j)).sum();
            }
        }
        out
    }

    #[test]
    fn products_of_plain_and_transposed_operands_match_the_definition() {
        let a: Vec<f32> = (0..12).map(|v| v as f32 * 0.5 - 2.0).collect();
        let b: Vec<f32> = (0..20).map(|v| (v as f32 * 0.37).sin()).collect();
        // (3×4)·(4×5), then (4×3)ᵀ stored as a 3×4 row-major ... as a 4×3 transposed view.
        let cases = [
            (MatRef::row_major(&a, 3, 4), MatRef::row_major(&b, 4, 5)),
            (
                MatRef::transposed(&a, 4, 3),
                MatRef::row_major(&b[..15], 3, 5),
            ),
            (MatRef::row_major(&a, 3, 4), MatRef::transposed(&b, 4, 5)),
        ];
        for (lhs, rhs) in cases {
            let want = naive(lhs, rhs);
            let mut got = vec![9.0; want.len()];
            matmul(&mut got, lhs, rhs, false);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
            }
            let mut twice = got.clone();
            matmul(&mut twice, lhs, rhs, true);
            for (t, w) in twice.iter().zip(&want) {
                assert!((t - 2.0 * w).abs() < 1e-5);
            }
        }
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn a_view_past_its_slice_is_refused() {
        let a = [0.0f32; 11];
        let _ = MatRef::row_major(&a, 3, 4);
    }
}
