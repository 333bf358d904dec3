//! The input gradients of the losses the inner attack of adversarial training climbs
//! ([`InnerLoss`]), each `[pixels, n]` row-major for a batch `x` of `n` images whose labels
//! are given as their one-hot class-mean `targets` (`[latent, n]`).

use super::adversarial::InnerLoss;
use crate::model::params::Matrix;
use crate::model::{Network, Params};
use dfdx::prelude::*;

/// ∂/∂x of the summed `loss` over the columns of `x`.
pub(super) fn gradient<D: Device<f32>>(
    loss: InnerLoss,
    network: &Network<D>,
    params: &Params<D>,
    x: Matrix<D>,
    targets: &Matrix<D>,
) -> Vec<f32> {
    let classes = network.config().classes;
    match loss {
        InnerLoss::Posterior => cross_entropy_gradient(network, params, x, targets, classes),
        InnerLoss::Margin => margin_gradient(network, params, x, targets, classes),
        InnerLoss::WrongMean => wrong_mean_gradient(network, params, x, targets, classes),
    }
}

/// ∂/∂x of Σ CE(softmax(class coordinates of f(x)), y).
fn cross_entropy_gradient<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    x: Matrix<D>,
    targets: &Matrix<D>,
    classes: usize,
) -> Vec<f32> {
    let (logits, select) = class_coordinates(network, params, &x, classes);
    let onehot = select.matmul(targets.clone());
    let ce = (logits.log_softmax::<Axis<0>>() * onehot)
        .sum::<_, Axis<0>>()
        .negate();
    let grads = ce.sum().backward();
    grads.get(&x).as_vec()
}

/// The class coordinates `[classes, n]` of f(x), on a tape that leads back to `x`, and the
/// selection `[classes, latent]` (identity on the first `classes` rows) that picked them.
fn class_coordinates<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    x: &Matrix<D>,
    classes: usize,
) -> (Matrix<D, OwnedTape<f32, D>>, Matrix<D>) {
    let latent = network.config().latent;
    let selection: Vec<f32> = (0..classes * latent)
        .map(|r| f32::from(r / latent == r % latent))
        .collect();
    let select = network
        .device()
        .tensor_from_vec(selection, (classes, latent));
    let z = network.encode(params, x.clone().traced(Gradients::leaky()));
    let coordinates = select.clone().retaped::<OwnedTape<f32, D>>().matmul(z);
    (coordinates, select)
}

/// The true class `y` and the best wrong class `k` (the wrong class with the largest
/// coordinate of `values`) of every column; `values` and `truth` are `[rows, n]` row-major,
/// their first `classes` rows the class coordinates.
fn true_and_best_wrong(
    values: &[f32],
    truth: &[f32],
    n: usize,
    classes: usize,
) -> Vec<(usize, Option<usize>)> {
    (0..n)
        .map(|column| {
            let y = (0..classes)
                .max_by(|&a, &b| truth[a * n + column].total_cmp(&truth[b * n + column]))
                .unwrap_or(0);
            let wrong = (0..classes)
                .filter(|&k| k != y)
                .max_by(|&a, &b| values[a * n + column].total_cmp(&values[b * n + column]));
            (y, wrong)
        })
        .collect()
}

/// ∂/∂x of Σ (z_k − z_y) over the columns of `x`, with y the class of each column and k its
/// best wrong class at z = f(x).
fn margin_gradient<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    x: Matrix<D>,
    targets: &Matrix<D>,
    classes: usize,
) -> Vec<f32> {
    let n = x.shape().1;
    let (coordinates, _) = class_coordinates(network, params, &x, classes);
    let values = coordinates.as_vec();
    let mut direction = vec![0f32; classes * n];
    for (column, (y, wrong)) in true_and_best_wrong(&values, &targets.as_vec(), n, classes)
        .into_iter()
        .enumerate()
    {
        if let Some(k) = wrong {
            direction[k * n + column] = 1.0;
            direction[y * n + column] = -1.0;
        }
    }
    let direction = network.device().tensor_from_vec(direction, (classes, n));
    let grads = (coordinates * direction).sum().backward();
    grads.get(&x).as_vec()
}

/// ∂/∂x of −Σ ||f(x) − μ_k||² over the columns of `x`, with μ_k the mean (one-hot, zero
/// padded) of each column's best wrong class k at f(x). A column with no wrong class (one
/// class only) is pulled to its own mean, which leaves it where the loss is lowest.
fn wrong_mean_gradient<D: Device<f32>>(
    network: &Network<D>,
    params: &Params<D>,
    x: Matrix<D>,
    targets: &Matrix<D>,
    classes: usize,
) -> Vec<f32> {
    let (latent, n) = (network.config().latent, x.shape().1);
    let z = network.encode(params, x.clone().traced(Gradients::leaky()));
    let truth = targets.as_vec();
    let mut wrong_means = vec![0f32; latent * n];
    for (column, (y, wrong)) in true_and_best_wrong(&z.as_vec(), &truth, n, classes)
        .into_iter()
        .enumerate()
    {
        wrong_means[wrong.unwrap_or(y) * n + column] = 1.0;
    }
    let wrong_means = network.device().tensor_from_vec(wrong_means, (latent, n));
    let grads = (z - wrong_means).square().sum().negate().backward();
    grads.get(&x).as_vec()
}

#[cfg(test)]
mod tests {
    use super::super::adversarial::DEFAULT_ADVERSARIAL;
    use super::super::adversarial::{perturb, AdversarialTraining, InnerAttack};
    use super::*;
    use crate::model::{ModelConfig, Preset};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A freshly initialised tiny model (latent 4, 3 classes: the padded coordinate counts),
    /// `n = 6` random 8×8 images, their labels `c % 3`, and both as device matrices.
    #[allow(clippy::type_complexity)]
    fn fixture(
        seed: u64,
    ) -> (
        Network<Cpu>,
        Params<Cpu>,
        Vec<f32>,
        Vec<usize>,
        Matrix<Cpu>,
        Matrix<Cpu>,
    ) {
        let config = ModelConfig::from_preset(Preset::Tiny, (1, 8, 8), 3, Some(4)).unwrap();
        let dev = Cpu::default();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let params = Params::init(&config, &dev, &mut rng);
        let network = Network::new(config, &dev);
        let n = 6;
        let clean: Vec<f32> = (0..64 * n).map(|_| rng.gen::<f32>()).collect();
        let labels: Vec<usize> = (0..n).map(|c| c % 3).collect();
        let mut targets = vec![0f32; 4 * n];
        for (c, &y) in labels.iter().enumerate() {
            targets[y * n + c] = 1.0;
        }
        let images = dev.tensor_from_vec(clean.clone(), (64, n));
        let targets = dev.tensor_from_vec(targets, (4, n));
        (network, params, clean, labels, images, targets)
    }

    /// The inner attack of `loss` (5 steps, total step 2.5·ε, no random start) at `eps`,
    /// checked to stay in the ball and in [0, 1].
    fn attacked(
        loss: InnerLoss,
        eps: f32,
        network: &Network<Cpu>,
        params: &Params<Cpu>,
        (clean, images, targets): (&[f32], &Matrix<Cpu>, &Matrix<Cpu>),
    ) -> Vec<f32> {
        let settings = AdversarialTraining {
            steps: 5,
            step_factor: 2.5,
            loss,
            ..DEFAULT_ADVERSARIAL
        };
        let attack = InnerAttack::new(&settings, eps, vec![0.0; clean.len()]);
        let adv = perturb(network, params, images, targets, &attack).as_vec();
        for (&a, &x) in adv.iter().zip(clean) {
            assert!((0.0..=1.0).contains(&a), "{a}");
            assert!((a - x).abs() <= eps + 1e-6, "{a} vs {x}");
        }
        adv
    }

    /// `per_column(z, y)` summed over the columns of `images` (one 8×8 image each), where
    /// `z(row)` reads that column's code f(x) and `y` is its label.
    fn summed_over_columns(
        network: &Network<Cpu>,
        params: &Params<Cpu>,
        images: Vec<f32>,
        labels: &[usize],
        per_column: impl Fn(&dyn Fn(usize) -> f32, usize) -> f32,
    ) -> f32 {
        let n = labels.len();
        let codes = network
            .encode(params, Cpu::default().tensor_from_vec(images, (64, n)))
            .as_vec();
        (0..n)
            .map(|c| per_column(&|row| codes[row * n + c], labels[c]))
            .sum()
    }

    #[test]
    fn the_margin_attack_stays_in_the_ball_and_raises_the_best_wrong_margin() {
        let (network, params, clean, labels, images, targets) = fixture(5);
        // The summed margin max_{k≠y} z_k − z_y over the columns.
        let margin = |x: Vec<f32>| {
            summed_over_columns(&network, &params, x, &labels, |z, y| {
                let best_wrong = (0..3).filter(|&k| k != y).map(z).fold(f32::MIN, f32::max);
                best_wrong - z(y)
            })
        };
        let adv = attacked(
            InnerLoss::Margin,
            0.1,
            &network,
            &params,
            (&clean, &images, &targets),
        );
        assert!(
            margin(adv.clone()) > margin(clean.clone()),
            "{} vs {}",
            margin(adv),
            margin(clean)
        );
    }

    #[test]
    fn the_wrong_mean_attack_stays_in_the_ball_and_nears_the_best_wrong_mean() {
        let (network, params, clean, labels, images, targets) = fixture(7);
        // The summed squared distance of f(x) to its nearest wrong class mean.
        let distance = |x: Vec<f32>| {
            summed_over_columns(&network, &params, x, &labels, |z, y| {
                (0..3)
                    .filter(|&k| k != y)
                    .map(|k| {
                        (0..4)
                            .map(|row| (z(row) - f32::from(row == k)).powi(2))
                            .sum::<f32>()
                    })
                    .fold(f32::MAX, f32::min)
            })
        };
        let adv = attacked(
            InnerLoss::WrongMean,
            0.1,
            &network,
            &params,
            (&clean, &images, &targets),
        );
        let (before, after) = (distance(clean), distance(adv));
        assert!(after < before, "{after} vs {before}");
    }
}
