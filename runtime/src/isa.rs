//! Which vector instructions the hot kernels run on.
//!
//! Every kernel is written once, in portable Rust whose arithmetic order is fixed by
//! `NUMERICS.md`; the compiler vectorises it for the instructions a build enables. A plain
//! `cargo build` for x86-64 enables only SSE2, which leaves most of an AVX2 machine unused.
//! So on x86 and x86-64 the runtime compiles its hot kernels a second time with AVX and AVX2
//! enabled and, when the CPU has them (CPUID and XGETBV, read once through the `cpufeatures`
//! crate), runs that copy instead. The two copies compute the same operations in the same
//! order — vector width only decides which independent outputs are computed together, and
//! Rust never fuses a multiply and an add — so they give the same bits (the determinism
//! tests run both).
//!
//! This needs the crate's `dispatch` feature (the `gmvae` binary enables it) and is the
//! crate's one use of `unsafe`: calling a function compiled for AVX2, which is defined
//! behaviour exactly when the CPU supports AVX2. Without the feature the crate forbids
//! `unsafe` code and [`Isa::detect`] always answers [`Isa::Baseline`]. [`Isa::Avx2`] is only ever selected
//! after the CPU said it does ([`Isa::detect`]; [`crate::Model::limit_isa`] can only lower a
//! model's choice). Builds for other targets, and bare-metal builds (`target_os = "none"`),
//! always run the baseline copy, compiled for whatever `-C target-feature`/`target-cpu` the
//! build chose.

#[cfg(all(feature = "dispatch", any(target_arch = "x86", target_arch = "x86_64")))]
cpufeatures::new!(cpuid_avx2, "avx", "avx2");

/// A set of vector instructions the hot kernels can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// What the build enables at compile time (SSE2 for a default x86-64 build, NEON on
    /// AArch64, scalar code on most microcontrollers).
    Baseline,
    /// x86 or x86-64 with AVX and AVX2, detected at run time.
    Avx2,
}

impl Isa {
    /// The best set this CPU supports (detected once, then cached); always
    /// [`Isa::Baseline`] without the crate's `dispatch` feature.
    pub fn detect() -> Self {
        #[cfg(all(feature = "dispatch", any(target_arch = "x86", target_arch = "x86_64")))]
        if cpuid_avx2::init().get() {
            return Isa::Avx2;
        }
        Isa::Baseline
    }

    /// A short name for reports: `"baseline"` or `"avx2"`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
        }
    }
}

/// Evaluates `$call` — a call of a kernel marked `#[inline(always)]` — on the instructions
/// of `$isa` (an [`Isa`] held by a [`crate::Model`]): the call is inlined into both copies of
/// a trampoline, one compiled for the baseline and one for AVX2.
macro_rules! dispatch {
    ($isa:expr, $call:expr) => {
        $crate::isa::run(
            $isa,
            #[inline(always)]
            || $call,
        )
    };
}
pub(crate) use dispatch;

/// Runs `f` on the instructions of `isa`; `f` must be `#[inline(always)]` (see [`dispatch`]).
///
/// `isa` must come from a [`crate::Model`], which holds [`Isa::Avx2`] only after
/// [`Isa::detect`] found AVX2 on this CPU.
#[inline(always)]
pub(crate) fn run<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    match isa {
        #[cfg(all(feature = "dispatch", any(target_arch = "x86", target_arch = "x86_64")))]
        #[allow(unsafe_code)]
        Isa::Avx2 => {
            // SAFETY: `with_avx2` only requires that the CPU supports AVX and AVX2, and a
            // model holds `Isa::Avx2` only after `Isa::detect` confirmed both (CPUID leaf 7
            // and the OS's XGETBV register state, via `cpufeatures`).
            unsafe { with_avx2(f) }
        }
        _ => f(),
    }
}

/// `f()`, compiled with AVX and AVX2 enabled.
#[cfg(all(feature = "dispatch", any(target_arch = "x86", target_arch = "x86_64")))]
#[target_feature(enable = "avx,avx2")]
fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_is_stable_and_ordered() {
        assert_eq!(Isa::detect(), Isa::detect());
        assert!(Isa::Baseline < Isa::Avx2);
        assert_eq!(Isa::Baseline.name(), "baseline");
        assert_eq!(dispatch!(Isa::detect(), 2 + 2), 4);
    }
}
