//! The logistic sigmoid, `1 / (1 + expf(−x))` with `libm::expf`.
//!
//! `libm` is a pure-software port of musl's libm, so `expf` gives the same bits on every
//! target that has SSE or is not x86 (on x86 without SSE `libm` switches to the x87 unit).

/// Sigmoid of one value.
#[inline]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_f64_reference() {
        for i in -400..=400 {
            let x = i as f32 * 0.05;
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = sigmoid(x) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * want.max(1e-30) + 1e-7,
                "{x}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn saturates_without_nan() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert!(sigmoid(f32::NAN).is_nan());
    }
}
