//! Where and when a latency benchmark ran: the build's SIMD level, the CPU, the load and the
//! time, recorded beside every figure so that numbers from different runs are comparable.

use super::{cpu_model, load_average, utc_now};
use gmvae_runtime::{Isa, Model};
use serde::Serialize;

/// Which instruction set `gmvae bench classify|reclassify` runs the runtime's kernels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IsaChoice {
    /// The best set the runtime detects on this CPU (what `gmvae` always uses).
    Best,
    /// The build's baseline only (SSE2 for a default x86-64 build): the code path of a CPU
    /// without AVX2.
    Baseline,
}

impl IsaChoice {
    /// `model` limited accordingly.
    pub fn apply(self, model: Model<'_>) -> Model<'_> {
        match self {
            IsaChoice::Best => model,
            IsaChoice::Baseline => model.limit_isa(Isa::Baseline),
        }
    }
}

/// The machine and build a latency benchmark ran on (flattened into each report's JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// SIMD features this binary was compiled for (`cfg!(target_feature = …)`).
    pub target_features: Vec<&'static str>,
    /// A name for that target: default x86-64 or what `-C target-cpu` enabled.
    pub target_cpu: String,
    /// The instruction set the runtime's kernels ran on (`baseline`: the compiled-for
    /// features above; `avx2`: the copy chosen at run time).
    pub runtime_isa: &'static str,
    /// UTC start time, RFC 3339.
    pub date: String,
    /// CPU model from /proc/cpuinfo, if readable.
    pub cpu: Option<String>,
    /// 1-minute load average before the measurement, if readable.
    pub load_average: Option<f64>,
}

impl Machine {
    /// This machine and build, now, with the runtime running on `isa`.
    pub fn now(isa: Isa) -> Self {
        Self {
            target_features: target_features(),
            target_cpu: target_cpu(),
            runtime_isa: isa.name(),
            date: utc_now(),
            cpu: cpu_model(),
            load_average: load_average(),
        }
    }

    /// One line for the text reports: date, CPU, load, SIMD level and features, and the
    /// instruction set the runtime ran on.
    pub fn line(&self) -> String {
        format!(
            "{} | cpu {} | load {} | {} [{}] | runtime kernels: {}\n",
            self.date,
            self.cpu.as_deref().unwrap_or("unknown"),
            self.load_average.map_or("?".into(), |l| format!("{l:.2}")),
            self.target_cpu,
            self.target_features.join(" "),
            self.runtime_isa
        )
    }
}

/// The SIMD features this binary was compiled with.
pub fn target_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    macro_rules! probe {
        ($($name:tt),*) => {$(
            if cfg!(target_feature = $name) {
                features.push($name);
            }
        )*};
    }
    probe!("sse2", "sse4.1", "sse4.2", "avx", "avx2", "fma", "avx512f", "neon", "sve");
    features
}

/// A short name for the compilation target's SIMD level.
pub fn target_cpu() -> String {
    let arch = std::env::consts::ARCH;
    let level = if cfg!(target_feature = "avx512f") {
        "AVX-512 (a -C target-cpu such as native or x86-64-v4)"
    } else if cfg!(target_feature = "avx2") {
        "AVX2 (a -C target-cpu such as native or x86-64-v3)"
    } else if cfg!(target_feature = "avx") {
        "AVX (a -C target-cpu with AVX)"
    } else if arch == "x86_64" {
        "default x86-64 target (SSE2)"
    } else {
        "default target"
    };
    format!("{arch}: {level}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_target() {
        let features = target_features();
        assert_eq!(
            features.contains(&"avx2"),
            target_cpu().contains("AVX2") || target_cpu().contains("AVX-512")
        );
    }

    #[test]
    fn the_line_names_the_load_and_the_features() {
        let m = Machine {
            target_features: vec!["sse2"],
            target_cpu: "x86_64: default".into(),
            runtime_isa: "avx2",
            date: "2026-11-25T00:00:00Z".into(),
            cpu: None,
            load_average: Some(1.234),
        };
        assert_eq!(
            m.line(),
            "2026-11-25T00:00:00Z | cpu unknown | load 1.23 | x86_64: default [sse2] | runtime kernels: avx2\n"
        );
    }
}
