//! The fused CPU kernels of the convolution stages against the stable-op graph they replace
//! (kept as the reference): the same forward outputs and the same gradients of every
//! parameter and of the input images, within [`TOLERANCE`], on random and on real digits;
//! and, on a tiny model, gradients against central finite differences of the loss.
//!
//! Where a pooling window holds tied maxima the two differ by design: the fused kernel routes
//! the gradient to one winner (a subgradient of max), while dfdx's max reduction gives the
//! full gradient to every tied input (four times over in a flat 2×2 window). Real digits have
//! flat black backgrounds, so they are compared with a dither of at most [`DITHER`] that
//! leaves no ties; `tied_windows_route_the_gradient_to_one_input` pins the difference down.

use dfdx::prelude::*;
use gmvae_trainer::data::{load, DatasetSpec};
use gmvae_trainer::model::fused::LayerKernels;
use gmvae_trainer::model::params::Matrix;
use gmvae_trainer::model::{ModelConfig, Network, Params, Preset};
use gmvae_trainer::train::loss;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Largest difference accepted between the fused kernels and the stable-op graph, relative
/// to the largest magnitude of the compared tensor (both sum in f32, in different orders).
const TOLERANCE: f32 = 2e-5;

/// Largest relative difference accepted between an analytic gradient and a central finite
/// difference of the loss along its gradient (step [`STEP`]).
const FD_TOLERANCE: f64 = 1e-2;

/// The finite-difference step.
const STEP: f32 = 1e-3;

/// The largest dither added to real digits (one grey level) so that no pooling window holds
/// tied or nearly tied maxima (whose winner the two implementations' rounding may flip).
const DITHER: f32 = 1.0 / 255.0;

fn assert_close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: sizes");
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= TOLERANCE * scale,
        "{name}: worst difference {worst} against a scale of {scale}"
    );
}

/// Images `[pixels, batch]`, random in [0, 1], or the first bundled test digits.
fn images(dev: &Cpu, pixels: usize, batch: usize, real: bool, rng: &mut ChaCha8Rng) -> Matrix<Cpu> {
    let values: Vec<f32> = if real {
        let split = load(&DatasetSpec::Bundled).unwrap();
        let x = split
            .test
            .images
            .slice(ndarray::s![..batch, ..])
            .t()
            .to_owned();
        x.iter()
            .map(|&v| (v + rng.gen_range(0.0..DITHER)).min(1.0))
            .collect()
    } else {
        (0..pixels * batch).map(|_| rng.gen()).collect()
    };
    dev.tensor_from_vec(values, (pixels, batch))
}

/// Outputs and gradients (every layer's weight and bias, then the images) of the supervised
/// loss with `kernels`.
fn run(
    config: ModelConfig,
    kernels: LayerKernels,
    x: &Matrix<Cpu>,
    params: &Params<Cpu>,
) -> (Vec<f32>, Vec<f32>, Vec<Vec<f32>>) {
    let dev = x.device().clone();
    let network = Network::new(config, &dev).with_kernels(kernels);
    let batch = x.shape().1;
    let z = network.encode(params, x.clone());
    let reconstruction = network.decode(params, z.clone());
    let targets: Matrix<Cpu> = dev.zeros_like(&(config.latent, batch));
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let noise: Vec<f32> = (0..config.latent * batch)
        .map(|_| rng.gen_range(-0.02..0.02))
        .collect();
    let noise = dev.tensor_from_vec(noise, (config.latent, batch));
    let images = x.clone().traced(Gradients::leaky());
    let z_traced = network.encode(params, images);
    // The loss of `train::loss::supervised`, with the image gradient kept.
    let latent = (z_traced.with_empty_tape() - targets.clone())
        .square()
        .sum::<_, Axis<0>>();
    let rec = (network.decode(params, z_traced + noise.clone()) - x.clone())
        .square()
        .sum::<_, Axis<0>>();
    let grads = (rec + latent * 50.0).mean().backward();
    let mut all: Vec<Vec<f32>> = params
        .layers()
        .iter()
        .flat_map(|l| [grads.get(&l.weight).as_vec(), grads.get(&l.bias).as_vec()])
        .collect();
    all.push(grads.get(x).as_vec());
    // The training loss itself agrees too (its own gradients are checked above).
    let (terms, _) = loss::supervised(&network, params, x.clone(), targets, noise, 50.0, 1.0);
    assert!(terms.total.is_finite());
    (z.as_vec(), reconstruction.as_vec(), all)
}

fn compare(config: ModelConfig, batch: usize, real: bool, seed: u64) {
    let dev = Cpu::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let params = Params::init(&config, &dev, &mut rng);
    let pixels = config.in_channels * config.height * config.width;
    let x = images(&dev, pixels, batch, real, &mut rng);
    let (z_f, rec_f, grads_f) = run(config, LayerKernels::Fused, &x, &params);
    let (z_s, rec_s, grads_s) = run(config, LayerKernels::StableOps, &x, &params);
    assert_close("z", &z_f, &z_s);
    assert_close("reconstruction", &rec_f, &rec_s);
    let names = gmvae_trainer::model::params::LAYER_NAMES;
    for (k, (f, s)) in grads_f.iter().zip(&grads_s).enumerate() {
        let name = match names.get(k / 2) {
            Some(layer) => format!("{layer} {}", if k % 2 == 0 { "weight" } else { "bias" }),
            None => "images".to_owned(),
        };
        assert_close(&name, f, s);
    }
}

#[test]
fn fused_stages_match_the_stable_op_graph_on_random_images() {
    let mnist = ModelConfig::from_preset(Preset::Tiny, (1, 28, 28), 10, None).unwrap();
    compare(mnist, 5, false, 1);
    // Three channels, a non-square image, a latent wider than the classes.
    let rgb = ModelConfig::from_preset(Preset::Tiny, (3, 8, 12), 4, Some(6)).unwrap();
    compare(rgb, 3, false, 2);
    // The paper's sizes, one image (batch 1 is its own edge case).
    let paper = ModelConfig::from_preset(Preset::Paper, (1, 28, 28), 10, None).unwrap();
    compare(paper, 1, false, 3);
}

#[test]
fn fused_stages_match_the_stable_op_graph_on_real_digits() {
    let paper = ModelConfig::from_preset(Preset::Paper, (1, 28, 28), 10, None).unwrap();
    compare(paper, 16, true, 4);
    let edge = ModelConfig::from_preset(Preset::Edge, (1, 28, 28), 10, None).unwrap();
    compare(edge, 7, true, 5);
}

/// The loss of a tiny model on `x` with the fused kernels, with no tape, summed in f64 on the
/// host (so that the finite differences see the network's rounding, not the sum's).
fn loss_value(network: &Network<Cpu>, params: &Params<Cpu>, x: &Matrix<Cpu>) -> f64 {
    let z = network.encode(params, x.clone());
    let rec = network.decode(params, z.clone()).as_vec();
    let batch = x.shape().1 as f64;
    let squares = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(&p, &q)| (f64::from(p) - f64::from(q)).powi(2))
            .sum()
    };
    let z = z.as_vec();
    (squares(&rec, &x.as_vec()) + squares(&z, &vec![0.0; z.len()])) / batch
}

#[test]
fn tied_windows_route_the_gradient_to_one_input() {
    // A blank image: every pooling window of the first stage is flat (bias only).
    let dev = Cpu::default();
    let config = ModelConfig::from_preset(Preset::Tiny, (1, 8, 8), 3, None).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let mut host = Params::<Cpu>::init(&config, &dev, &mut rng).to_host();
    host[0].3.iter_mut().for_each(|b| *b = 0.5);
    let params = Params::from_host(&dev, host);
    let x: Matrix<Cpu> = dev.zeros_like(&(64, 1));
    let bias_grad = |kernels| {
        let network = Network::new(config, &dev).with_kernels(kernels);
        let z = network.encode(&params, x.clone().traced(Gradients::leaky()));
        let grads = z.sum::<(), _>().backward();
        grads.get(&params.layers()[0].bias).as_vec()
    };
    let (fused, stable) = (
        bias_grad(LayerKernels::Fused),
        bias_grad(LayerKernels::StableOps),
    );
    for (f, s) in fused.iter().zip(&stable) {
        assert!(
            (s - 4.0 * f).abs() <= 1e-5 * s.abs().max(1.0),
            "{fused:?} vs {stable:?}"
        );
    }
    assert!(fused.iter().any(|&f| f != 0.0));
}

#[test]
fn fused_gradients_match_finite_differences() {
    let dev = Cpu::default();
    let config = ModelConfig::from_preset(Preset::Tiny, (1, 8, 8), 3, None).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let params = Params::init(&config, &dev, &mut rng);
    let x = images(&dev, 64, 4, false, &mut rng);
    let network = Network::new(config, &dev);
    assert_eq!(network.kernels(), LayerKernels::Fused);
    let z = network.encode(&params, x.clone().traced(Gradients::leaky()));
    let rec = network.decode(&params, z.with_empty_tape());
    let loss = (rec - x.clone()).square().sum::<_, Axis<0>>().mean()
        + z.square().sum::<_, Axis<0>>().mean();
    let grads = loss.backward();
    // Each convolution layer (encoder conv1, conv2, decoder conv1, conv2), weight and bias
    // together, along its own gradient g: the loss must change at the rate |g|. (A step along
    // the gradient moves every value of the layer, so neither f32 rounding of the loss nor
    // the odd ReLU or pooling switch inside the step swamps the difference.)
    let mut checked = 0;
    for layer in [0usize, 1, 6, 7] {
        let mut g = grads.get(&params.layers()[layer].weight).as_vec();
        g.extend(grads.get(&params.layers()[layer].bias).as_vec());
        let norm = g.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
        let shifted = |step: f64| {
            let mut h = params.to_host();
            let weights = h[layer].2.len();
            for (k, &gk) in g.iter().enumerate() {
                let delta = (step * f64::from(gk) / norm) as f32;
                if k < weights {
                    h[layer].2[k] += delta;
                } else {
                    h[layer].3[k - weights] += delta;
                }
            }
            loss_value(&network, &Params::from_host(&dev, h), &x)
        };
        let step = f64::from(STEP);
        let numeric = (shifted(step) - shifted(-step)) / (2.0 * step);
        assert!(
            (numeric - norm).abs() <= FD_TOLERANCE * norm,
            "layer {layer}: |gradient| {norm}, finite difference along it {numeric}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4);
}
