//! Shared support for the workspace's conformance tests and benchmarks: fixture paths, raw
//! f32 files, hex bit patterns and named numeric tolerances.

use std::path::PathBuf;

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `fixtures/golden/`: the golden model, inputs and expected runtime outputs.
pub fn golden_dir() -> PathBuf {
    fixtures_dir().join("golden")
}

/// `fixtures/broken/`: deliberately broken model files, one per `gmvae_format::corrupt`
/// corruption, with `expected.json` naming the error each must produce.
pub fn broken_dir() -> PathBuf {
    fixtures_dir().join("broken")
}

/// `fixtures/golden/model.gmvae`, the golden (edge preset) model.
pub fn golden_model_path() -> PathBuf {
    golden_dir().join("model.gmvae")
}

/// Reads a whole fixture file, panicking with its path if it cannot (tests only).
pub fn read_fixture(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "cannot read fixture {}: {e} (regenerate with the `golden_fixtures` example, see fixtures/README.md)",
            path.display()
        )
    })
}

/// Decodes raw little-endian f32 values; `None` if the length is not a multiple of 4.
pub fn f32_from_le(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// An f32's bit pattern as `0x` and 8 lowercase hex digits (the golden files' notation).
pub fn hex_f32(x: f32) -> String {
    format!("0x{:08x}", x.to_bits())
}

/// Parses [`hex_f32`]'s notation back; `None` for anything else.
pub fn parse_hex_f32(s: &str) -> Option<f32> {
    let digits = s.strip_prefix("0x")?;
    if digits.len() != 8 {
        return None;
    }
    u32::from_str_radix(digits, 16).ok().map(f32::from_bits)
}

/// How close two implementations' values must be, by name (the idea of tract's
/// `Approximation`): a value `a` approximates the reference `b` when
/// `|a − b| ≤ atol + rtol·|b|`. Every conformance check names one of these instead of
/// spelling out numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approximation {
    /// The same bits (NaN payloads and the sign of zero included). Between runs, builds and
    /// targets of the runtime, which fixes its summation order (`runtime/NUMERICS.md`).
    Exact,
    /// `atol = 1e-6`, `rtol = 1e-5`: the same f32 computation summed in another order, a
    /// few roundings apart.
    Close,
    /// `atol = 1e-4`, `rtol = 1e-4`: another implementation of the same network in f32
    /// (dfdx's gemm/convolution kernels, which may use FMA and blocked sums, against the
    /// runtime's strict left-to-right order) on values of order 1.
    Approximate,
    /// `atol = 1e-2`, `rtol = 1e-2`: a different algorithm for the same quantity, or an
    /// accelerator with reduced-precision arithmetic.
    VeryApproximate,
}

impl Approximation {
    /// `(atol, rtol)`; both zero for [`Approximation::Exact`].
    pub const fn atol_rtol(self) -> (f64, f64) {
        match self {
            Approximation::Exact => (0.0, 0.0),
            Approximation::Close => (1e-6, 1e-5),
            Approximation::Approximate => (1e-4, 1e-4),
            Approximation::VeryApproximate => (1e-2, 1e-2),
        }
    }

    /// Whether `actual` is within this tolerance of `reference`. Non-finite values are
    /// never accepted except by [`Approximation::Exact`] on identical bits.
    pub fn accepts(self, actual: f32, reference: f32) -> bool {
        if self == Approximation::Exact {
            return actual.to_bits() == reference.to_bits();
        }
        if !actual.is_finite() || !reference.is_finite() {
            return false;
        }
        let (atol, rtol) = self.atol_rtol();
        let (a, b) = (f64::from(actual), f64::from(reference));
        (a - b).abs() <= atol + rtol * b.abs()
    }

    /// [`Approximation::accepts`] for every pair; `Err` names the first offending index.
    pub fn check_all(self, actual: &[f32], reference: &[f32]) -> Result<(), String> {
        if actual.len() != reference.len() {
            return Err(format!(
                "{} values against {} reference values",
                actual.len(),
                reference.len()
            ));
        }
        match actual
            .iter()
            .zip(reference)
            .position(|(&a, &b)| !self.accepts(a, b))
        {
            None => Ok(()),
            Some(i) => Err(format!(
                "value {i}: {} against reference {} is not {self:?} ({:?})",
                actual[i],
                reference[i],
                self.atol_rtol()
            )),
        }
    }
}

/// Largest absolute and relative difference between `actual` and `reference` (relative to
/// `max(|reference|, floor)`), for reporting how much headroom a tolerance has.
pub fn max_differences(actual: &[f32], reference: &[f32], floor: f64) -> (f64, f64) {
    actual
        .iter()
        .zip(reference)
        .fold((0.0f64, 0.0f64), |(abs, rel), (&a, &b)| {
            let d = (f64::from(a) - f64::from(b)).abs();
            (abs.max(d), rel.max(d / f64::from(b).abs().max(floor)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_other_notations() {
        for x in [
            0.0f32,
            -0.0,
            1.5,
            f32::MIN_POSITIVE,
            f32::NAN,
            f32::INFINITY,
        ] {
            let s = hex_f32(x);
            assert_eq!(parse_hex_f32(&s).map(f32::to_bits), Some(x.to_bits()));
        }
        assert_eq!(hex_f32(1.0), "0x3f800000");
        for bad in ["3f800000", "0x3f80000", "0x3f8000000", "0xzzzzzzzz", "1.0"] {
            assert_eq!(parse_hex_f32(bad), None, "{bad}");
        }
    }

    #[test]
    fn f32_from_le_needs_whole_values() {
        assert_eq!(f32_from_le(&[0, 0, 0x80, 0x3f]), Some(vec![1.0]));
        assert_eq!(f32_from_le(&[0, 0, 0x80]), None);
    }

    #[test]
    fn tolerances_are_ordered_and_bounded() {
        let one_ulp = f32::from_bits(1.0f32.to_bits() + 1);
        assert!(!Approximation::Exact.accepts(one_ulp, 1.0));
        assert!(!Approximation::Exact.accepts(-0.0, 0.0));
        assert!(Approximation::Exact.accepts(f32::NAN, f32::NAN));
        assert!(Approximation::Close.accepts(one_ulp, 1.0));
        assert!(!Approximation::Close.accepts(1.0001, 1.0));
        assert!(Approximation::Approximate.accepts(1.0001, 1.0));
        assert!(!Approximation::Approximate.accepts(1.001, 1.0));
        assert!(Approximation::VeryApproximate.accepts(1.01, 1.0));
        assert!(!Approximation::VeryApproximate.accepts(1.03, 1.0));
        assert!(!Approximation::VeryApproximate.accepts(f32::NAN, f32::NAN));
        assert!(Approximation::Approximate
            .check_all(&[1.0, 2.0], &[1.0, 2.1])
            .unwrap_err()
            .starts_with("value 1"));
        assert!(Approximation::Close.check_all(&[1.0], &[1.0, 2.0]).is_err());
        assert_eq!(max_differences(&[1.5, 0.0], &[1.0, 0.25], 1.0), (0.5, 0.5));
    }
}
