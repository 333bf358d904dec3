//! Tiny models shared by the integration tests.
#![allow(dead_code)]

use gmvae_format::{
    isotropic_precisions, one_hot_means, Architecture, Calibration, CovarianceKind, ModelFile,
    TauDecStatistic, TensorId,
};

/// C=1, H=W=4, c1=2, c2=2, hidden=3, latent=2, classes=2.
pub const TINY: Architecture = Architecture {
    in_channels: 1,
    height: 4,
    width: 4,
    conv1: 2,
    conv2: 2,
    hidden: 3,
    latent: 2,
    classes: 2,
};

/// A small deterministic generator of values in [-1, 1).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

pub fn calibration(covariance: CovarianceKind) -> Calibration {
    Calibration {
        s2: 1.0 / 3000.0,
        covariance,
        tau_enc: 11.83,
        tau_dec: 4.5,
        confidence: 0.9973,
        tau_dec_statistic: TauDecStatistic::Quantile { level: 0.99 },
        samples: 1000,
    }
}

/// Per-class precisions `A·Aᵀ + n·I`, exactly symmetric by construction.
pub fn per_class_precisions(arch: &Architecture, rng: &mut Lcg) -> Vec<f32> {
    let n = arch.latent;
    let mut out = Vec::with_capacity(arch.classes * n * n);
    for _ in 0..arch.classes {
        let a: Vec<f32> = (0..n * n).map(|_| rng.next()).collect();
        for i in 0..n {
            for j in 0..n {
                let mut s = 0.0f32;
                for k in 0..n {
                    s += a[i * n + k] * a[j * n + k];
                }
                if i == j {
                    s += n as f32;
                }
                out.push(s);
            }
        }
    }
    out
}

/// A model of `arch` with pseudo-random weights from `seed`.
pub fn model(arch: Architecture, covariance: CovarianceKind, seed: u64) -> ModelFile {
    let mut rng = Lcg(seed);
    let cal = calibration(covariance);
    let precisions = match covariance {
        CovarianceKind::Isotropic => isotropic_precisions(&arch, cal.s2),
        CovarianceKind::PerClass => per_class_precisions(&arch, &mut rng),
    };
    ModelFile {
        architecture: arch,
        calibration: cal,
        class_means: one_hot_means(&arch),
        precisions,
        dataset_name: "tiny-mnist".into(),
        class_names: (0..arch.classes).map(|c| format!("digit {c}")).collect(),
        tensors: TensorId::ALL.map(|t| (0..t.shape(&arch).len()).map(|_| rng.next()).collect()),
    }
}

pub fn tiny() -> ModelFile {
    model(TINY, CovarianceKind::PerClass, 7)
}

pub fn tiny_bytes() -> Vec<u8> {
    tiny().to_bytes().expect("the tiny model is valid")
}
