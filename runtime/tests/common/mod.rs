//! Shared helpers for the runtime's integration tests: random models written with the
//! format crate's writer, random images, and an f64 reference forward pass.
#![allow(dead_code)]

/// The `f64` reference convolution the kernels' unit tests use too.
#[path = "../../src/kernels/reference.rs"]
mod reference;
use reference::{conv3x3, upsample_conv3x3};

use gmvae_format::{
    Architecture, Calibration, CovarianceKind, ModelFile, TauDecStatistic, TensorId,
};

/// SplitMix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-a, a).
    pub fn sym(&mut self, a: f32) -> f32 {
        (self.unit() * 2.0 - 1.0) * a
    }
}

/// The paper's MNIST model.
pub const PAPER: Architecture = Architecture::MNIST_PAPER;

/// The `edge` preset: MNIST-sized input, c1 = 8, c2 = 16, hidden = 64.
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

/// A small model for end-to-end tests.
pub const TINY: Architecture = Architecture {
    in_channels: 2,
    height: 8,
    width: 12,
    conv1: 5,
    conv2: 6,
    hidden: 13,
    latent: 4,
    classes: 3,
};

pub fn calibration(tau_enc: f32, tau_dec: f32) -> Calibration {
    Calibration {
        s2: 0.25,
        covariance: CovarianceKind::Isotropic,
        tau_enc,
        tau_dec,
        confidence: 0.9973,
        tau_dec_statistic: TauDecStatistic::Quantile { level: 0.99 },
        samples: 1000,
    }
}

/// A model with uniform He-style random weights (`±sqrt(6 / fan_in)`), small random biases,
/// one-hot means and isotropic precisions.
pub fn random_file(arch: Architecture, seed: u64, tau_enc: f32, tau_dec: f32) -> ModelFile {
    let mut rng = Rng(seed);
    let mut file = ModelFile::new(arch, calibration(tau_enc, tau_dec)).expect("valid architecture");
    let f = arch.flat_features();
    for id in TensorId::ALL {
        let fan_in = match id {
            TensorId::EncConv1Weight => arch.in_channels * 9,
            TensorId::EncConv2Weight => arch.conv1 * 9,
            TensorId::EncFc1Weight => f,
            TensorId::EncFc2Weight => arch.hidden,
            TensorId::DecFc1Weight => arch.latent,
            TensorId::DecFc2Weight => arch.hidden,
            TensorId::DecConv1Weight => arch.conv2 * 9,
            TensorId::DecConv2Weight => arch.conv1 * 9,
            _ => 0,
        };
        let a = if fan_in == 0 {
            0.1
        } else {
            (6.0 / fan_in as f32).sqrt()
        };
        for v in file.tensor_mut(id).iter_mut() {
            *v = rng.sym(a);
        }
    }
    file
}

pub fn random_model(arch: Architecture, seed: u64) -> Vec<u8> {
    random_file(arch, seed, 1e30, 1e30)
        .to_bytes()
        .expect("writer accepts the model")
}

pub fn random_image(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    (0..len).map(|_| rng.unit()).collect()
}

/// f64 reference of the whole network, straight from the definitions (upsampling by index,
/// zero padding by bounds checks: `reference`). Returns `(z, reconstruction)`.
pub fn reference(file: &ModelFile, image: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let a = file.architecture;
    let t = |id: TensorId| -> Vec<f64> { file.tensor(id).iter().map(|&v| v as f64).collect() };
    let x: Vec<f64> = image.iter().map(|&v| v as f64).collect();
    let relu = |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|x| x.max(0.0)).collect() };
    let h1 = relu(conv3x3(
        &x,
        a.in_channels,
        a.height,
        a.width,
        &t(TensorId::EncConv1Weight),
        &t(TensorId::EncConv1Bias),
        a.conv1,
    ));
    let p1 = pool(&h1, a.conv1, a.height, a.width);
    let h2 = relu(conv3x3(
        &p1,
        a.conv1,
        a.height / 2,
        a.width / 2,
        &t(TensorId::EncConv2Weight),
        &t(TensorId::EncConv2Bias),
        a.conv2,
    ));
    let p2 = pool(&h2, a.conv2, a.height / 2, a.width / 2);
    let f1 = relu(dense(
        &p2,
        &t(TensorId::EncFc1Weight),
        &t(TensorId::EncFc1Bias),
    ));
    let z = dense(&f1, &t(TensorId::EncFc2Weight), &t(TensorId::EncFc2Bias));
    (z.clone(), decode_reference(file, &z))
}

pub fn decode_reference(file: &ModelFile, z: &[f64]) -> Vec<f64> {
    let a = file.architecture;
    let t = |id: TensorId| -> Vec<f64> { file.tensor(id).iter().map(|&v| v as f64).collect() };
    let relu = |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|x| x.max(0.0)).collect() };
    let d1 = relu(dense(
        z,
        &t(TensorId::DecFc1Weight),
        &t(TensorId::DecFc1Bias),
    ));
    let d2 = relu(dense(
        &d1,
        &t(TensorId::DecFc2Weight),
        &t(TensorId::DecFc2Bias),
    ));
    let c1 = relu(upsample_conv3x3(
        &d2,
        a.conv2,
        a.height / 4,
        a.width / 4,
        &t(TensorId::DecConv1Weight),
        &t(TensorId::DecConv1Bias),
        a.conv1,
    ));
    let c2 = upsample_conv3x3(
        &c1,
        a.conv1,
        a.height / 2,
        a.width / 2,
        &t(TensorId::DecConv2Weight),
        &t(TensorId::DecConv2Bias),
        a.in_channels,
    );
    c2.into_iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
}

fn pool(x: &[f64], c: usize, h: usize, w: usize) -> Vec<f64> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0.0; c * oh * ow];
    for ci in 0..c {
        for y in 0..oh {
            for xx in 0..ow {
                let at = |dy: usize, dx: usize| x[(ci * h + 2 * y + dy) * w + 2 * xx + dx];
                out[(ci * oh + y) * ow + xx] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
            }
        }
    }
    out
}

fn dense(x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let n_out = b.len();
    (0..n_out)
        .map(|j| {
            b[j] + x
                .iter()
                .enumerate()
                .map(|(i, &v)| v * w[i * n_out + j])
                .sum::<f64>()
        })
        .collect()
}

/// FNV-1a over the bits of a sequence of f32 values.
pub fn hash_f32(values: impl IntoIterator<Item = f32>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for byte in v.to_bits().to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// `model` on every instruction set this CPU offers: as parsed (the best one the runtime
/// detected, with its `dispatch` feature) and limited to the baseline, when they differ.
pub fn on_every_isa(model: gmvae_runtime::Model<'_>) -> Vec<gmvae_runtime::Model<'_>> {
    let baseline = model.limit_isa(gmvae_runtime::Isa::Baseline);
    if baseline.isa() == model.isa() {
        vec![model]
    } else {
        vec![model, baseline]
    }
}

/// The one value `f` gives for `model` on every instruction set (asserts they agree).
pub fn same_on_every_isa<T: PartialEq + std::fmt::Debug>(
    model: gmvae_runtime::Model<'_>,
    f: impl Fn(gmvae_runtime::Model<'_>) -> T,
) -> T {
    let mut results = on_every_isa(model).into_iter().map(|m| (m.isa(), f(m)));
    let (isa, first) = results.next().unwrap();
    for (other, value) in results {
        assert_eq!(value, first, "{other:?} differs from {isa:?}");
    }
    first
}

/// `result`, once it is known not to be `Error::Internal`. The runtime reports a broken
/// internal invariant — a bug, which would otherwise have been a panic — as that variant, so
/// the no-panic tests rule it out for every call they make.
pub fn not_internal<T>(
    result: Result<T, gmvae_runtime::Error>,
    call: &str,
) -> Result<T, gmvae_runtime::Error> {
    assert!(
        !matches!(result, Err(gmvae_runtime::Error::Internal)),
        "{call} returned Error::Internal (a runtime bug)"
    );
    result
}
