//! What the runtime's benchmarks share: the `edge` architecture, random-weight model files
//! and a fixed input image.

use gmvae_format::{
    Architecture, Calibration, CovarianceKind, ModelFile, TauDecStatistic, TensorId,
};

/// The trainer's `edge` preset for 28×28 greyscale images and ten classes.
pub const EDGE: Architecture = Architecture {
    in_channels: 1,
    height: 28,
    width: 28,
    conv1: 8,
    conv2: 16,
    hidden: 64,
    latent: 10,
    classes: 10,
};

/// A random-weight model file (He-uniform weights, biases in ±0.1), deterministic in `seed`.
/// Latency does not depend on the values beyond the share of exact zeros after ReLU, which
/// random weights put near one half.
pub fn model_bytes(arch: Architecture, seed: u64) -> Vec<u8> {
    let calibration = Calibration {
        s2: 1.0 / 3000.0,
        covariance: CovarianceKind::Isotropic,
        tau_enc: 28.0,
        tau_dec: 12.5,
        confidence: 0.9973,
        tau_dec_statistic: TauDecStatistic::Quantile { level: 0.99 },
        samples: 60_000,
    };
    let mut file = ModelFile::new(arch, calibration).expect("valid architecture");
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let fan_in = |id: TensorId| match id {
        TensorId::EncConv1Weight => arch.in_channels * 9,
        TensorId::EncConv2Weight => arch.conv1 * 9,
        TensorId::EncFc1Weight => arch.flat_features(),
        TensorId::EncFc2Weight | TensorId::DecFc2Weight => arch.hidden,
        TensorId::DecFc1Weight => arch.latent,
        TensorId::DecConv1Weight => arch.conv2 * 9,
        TensorId::DecConv2Weight => arch.conv1 * 9,
        _ => 0,
    };
    for id in TensorId::ALL {
        let scale = match fan_in(id) {
            0 => 0.1,
            n => (6.0 / n as f32).sqrt(),
        };
        for v in file.tensor_mut(id).iter_mut() {
            *v = next() * scale;
        }
    }
    file.to_bytes().expect("writer accepts the model")
}

/// A fixed image in [0, 1] with `len` pixels.
pub fn image(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 37) % 101) as f32 / 100.0).collect()
}
