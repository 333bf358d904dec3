//! ReLU, defined as `if x > 0 { x } else { 0.0 }`.
//!
//! This definition maps NaN and both zeros to `+0.0`, so every ReLU output is either a
//! positive number or exactly `+0.0`. The dense layers rely on that: they skip inputs that are
//! exactly zero (see `NUMERICS.md`).

/// ReLU of one value.
#[inline(always)]
pub(crate) fn relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

/// ReLU applied in place.
pub(crate) fn relu_in_place(xs: &mut [f32]) {
    for x in xs {
        *x = relu(*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_definition() {
        assert_eq!(relu(1.5), 1.5);
        assert_eq!(relu(-1.5).to_bits(), 0.0f32.to_bits());
        assert_eq!(relu(-0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(relu(f32::NAN).to_bits(), 0.0f32.to_bits());
        assert_eq!(relu(f32::INFINITY), f32::INFINITY);
        let mut v = [-1.0, 2.0, -0.0, 3.0];
        relu_in_place(&mut v);
        assert_eq!(v, [0.0, 2.0, 0.0, 3.0]);
    }
}
