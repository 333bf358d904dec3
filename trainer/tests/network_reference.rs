//! The dfdx forward pass (gather-based convolutions, reshape pooling, fused upsample-conv)
//! equals a naive reference implementation of the paper's architecture, computed in f64 from
//! the exported canonical tensors.

use dfdx::prelude::*;
use gmvae_format::TensorId;
use gmvae_trainer::calibrate::{
    Calibration, CalibrationSettings, CovarianceKind, TauDecStatistic, TauEncStatistic,
};
use gmvae_trainer::export::to_model_file;
use gmvae_trainer::model::{ModelConfig, Network, Params, Preset};
use gmvae_trainer::trained::TrainedModel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Naive 3×3 "same" convolution, `[c][h][w]` in, `[o][c][3][3]` weights.
fn conv(x: &[f64], (c, h, w): (usize, usize, usize), wt: &[f32], b: &[f32]) -> Vec<f64> {
    let o = b.len();
    let mut out = vec![0.0; o * h * w];
    for oc in 0..o {
        for y in 0..h {
            for xx in 0..w {
                let mut acc = f64::from(b[oc]);
                for ic in 0..c {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (sy, sx) = (y + ky, xx + kx);
                            if sy >= 1 && sy <= h && sx >= 1 && sx <= w {
                                acc += f64::from(wt[((oc * c + ic) * 3 + ky) * 3 + kx])
                                    * x[(ic * h + sy - 1) * w + sx - 1];
                            }
                        }
                    }
                }
                out[(oc * h + y) * w + xx] = acc;
            }
        }
    }
    out
}

fn relu(v: Vec<f64>) -> Vec<f64> {
    v.into_iter().map(|x| x.max(0.0)).collect()
}

fn pool(x: &[f64], (c, h, w): (usize, usize, usize)) -> Vec<f64> {
    let mut out = Vec::new();
    for ic in 0..c {
        for y in (0..h).step_by(2) {
            for xx in (0..w).step_by(2) {
                let at = |dy: usize, dx: usize| x[(ic * h + y + dy) * w + xx + dx];
                out.push(at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1)));
            }
        }
    }
    out
}

fn upsample(x: &[f64], (c, h, w): (usize, usize, usize)) -> Vec<f64> {
    (0..c * 4 * h * w)
        .map(|i| {
            let (ic, y, xx) = (i / (4 * h * w), i / (2 * w) % (2 * h), i % (2 * w));
            x[(ic * h + y / 2) * w + xx / 2]
        })
        .collect()
}

/// Input-major dense layer: weight element (i, o) at `i·outputs + o`.
fn dense(x: &[f64], wt: &[f32], b: &[f32]) -> Vec<f64> {
    (0..b.len())
        .map(|o| {
            f64::from(b[o])
                + x.iter()
                    .enumerate()
                    .map(|(i, v)| v * f64::from(wt[i * b.len() + o]))
                    .sum::<f64>()
        })
        .collect()
}

#[test]
fn dfdx_network_matches_the_naive_reference() {
    let dev = Cpu::default();
    let config = ModelConfig::from_preset(Preset::Tiny, (1, 8, 12), 3, Some(4)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let params = Params::init(&config, &dev, &mut rng);
    let network = Network::new(config, &dev);
    let batch = 3;
    let pixels = config.pixels();
    let images: Vec<f32> = (0..pixels * batch).map(|_| rng.gen()).collect();

    // dfdx, batch innermost.
    let mut columns = vec![0.0; pixels * batch];
    for n in 0..batch {
        for p in 0..pixels {
            columns[p * batch + n] = images[n * pixels + p];
        }
    }
    let x = dev.tensor_from_vec(columns, (pixels, batch));
    let z = network.encode(&params, x);
    let recon = network.decode(&params, z.clone()).as_vec();
    let z = z.as_vec();

    // Reference from the exported canonical tensors.
    let model = TrainedModel {
        network,
        params,
        calibration: Calibration {
            settings: CalibrationSettings {
                confidence: 0.9973,
                covariance: CovarianceKind::Isotropic,
                tau_enc: TauEncStatistic::Quantile,
                tau_dec: TauDecStatistic::Quantile,
                tpr: None,
            },
            s2: 1.0 / 3000.0,
            tau_enc: 1.0,
            tau_dec: 1.0,
            precisions: gmvae_format::isotropic_precisions(
                &gmvae_trainer::export::architecture(&config),
                1.0 / 3000.0,
            ),
            samples: 1,
        },
        dataset: "synthetic".into(),
        class_names: vec!["a".into(), "b".into(), "c".into()],
    };
    let file = to_model_file(&model).unwrap();
    let t = |id| file.tensor(id);
    let c = config;
    let (h, w) = (c.height, c.width);
    for n in 0..batch {
        let x: Vec<f64> = images[n * pixels..(n + 1) * pixels]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let a = pool(
            &relu(conv(
                &x,
                (1, h, w),
                t(TensorId::EncConv1Weight),
                t(TensorId::EncConv1Bias),
            )),
            (c.conv1, h, w),
        );
        let a = pool(
            &relu(conv(
                &a,
                (c.conv1, h / 2, w / 2),
                t(TensorId::EncConv2Weight),
                t(TensorId::EncConv2Bias),
            )),
            (c.conv2, h / 2, w / 2),
        );
        let a = relu(dense(
            &a,
            t(TensorId::EncFc1Weight),
            t(TensorId::EncFc1Bias),
        ));
        let zr = dense(&a, t(TensorId::EncFc2Weight), t(TensorId::EncFc2Bias));
        for (k, want) in zr.iter().enumerate() {
            let got = f64::from(z[k * batch + n]);
            assert!(
                (got - want).abs() < 1e-4 * want.abs().max(1.0),
                "z[{k}] {got} vs {want}"
            );
        }
        let a = relu(dense(
            &zr,
            t(TensorId::DecFc1Weight),
            t(TensorId::DecFc1Bias),
        ));
        let a = relu(dense(
            &a,
            t(TensorId::DecFc2Weight),
            t(TensorId::DecFc2Bias),
        ));
        let a = upsample(&a, (c.conv2, h / 4, w / 4));
        let a = relu(conv(
            &a,
            (c.conv2, h / 2, w / 2),
            t(TensorId::DecConv1Weight),
            t(TensorId::DecConv1Bias),
        ));
        let a = upsample(&a, (c.conv1, h / 2, w / 2));
        let xr: Vec<f64> = conv(
            &a,
            (c.conv1, h, w),
            t(TensorId::DecConv2Weight),
            t(TensorId::DecConv2Bias),
        )
        .into_iter()
        .map(|v| 1.0 / (1.0 + (-v).exp()))
        .collect();
        for (p, want) in xr.iter().enumerate() {
            let got = f64::from(recon[p * batch + n]);
            assert!((got - want).abs() < 1e-5, "x̂[{p}] {got} vs {want}");
        }
    }
}
