//! Fused CPU kernels for the convolution stages of encoder and decoder, recorded on dfdx's tape
//! as custom operations (a host forward function plus a backward closure).
//!
//! | stage | stable-op graph ([`super::network`]) | fused kernel |
//! |---|---|---|
//! | encoder conv + bias + ReLU + 2×2 max-pool | gather (im2col table), matmul, broadcast add, relu, two max reductions | [`encoder_block`]: im2col of one row pair at a time, one matmul, bias/ReLU/pool on the product while it is in cache; backward through the recorded pooling winners |
//! | decoder 2× upsample + conv + bias + activation | matmul, gather (upsample/shift table), sum over nine taps, broadcast add, relu or sigmoid | [`decoder_block`]: the same small-grid matmul, then one loop that sums the taps, adds the bias and applies the activation; backward spreads over the same taps |
//!
//! Dense layers stay on dfdx's matmul. The stable-op graph remains the reference (and the CUDA
//! path): [`LayerKernels::StableOps`] selects it on the CPU too, and the tests compare the two.

pub mod decoder_block;
pub mod encoder_block;
mod matmul;
mod scratch;

pub use decoder_block::{Activation, UpsampleConvDims};
pub use encoder_block::ConvPoolDims;

use super::params::{Affine, Matrix};
use dfdx::prelude::*;
use std::any::Any;

/// Which implementation runs the convolution stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerKernels {
    /// The fused kernels of this module on the CPU device (elsewhere the stable-op graph).
    Fused,
    /// The stable-op graph on every device (the reference).
    StableOps,
}

crate::choice::choice!(LayerKernels {
    Fused => "fused", "the fused CPU kernels (the stable-op graph on other devices)";
    StableOps => "stable-ops", "dfdx's stable ops on every device (the reference)";
});

/// `layer` as a CPU layer when `D` is [`Cpu`] (the fused kernels run on the host).
pub fn cpu_layer<D: Device<f32>>(layer: &Affine<D>) -> Option<&Affine<Cpu>> {
    (layer as &dyn Any).downcast_ref::<Affine<Cpu>>()
}

/// A fused stage on CPU tensors, for either tape (dfdx has two: a recording one and none).
pub trait CpuStage {
    /// The stage's output for `x`, its backward pass recorded on `x`'s tape.
    fn run<U: Tape<f32, Cpu>>(&self, x: Matrix<Cpu, U>) -> Matrix<Cpu, U>;
}

/// The encoder stage of one layer.
pub struct EncoderStage<'a> {
    /// The layer's weight `[out, in·9]` and bias.
    pub layer: &'a Affine<Cpu>,
    /// Its sizes.
    pub dims: ConvPoolDims,
}

impl CpuStage for EncoderStage<'_> {
    fn run<U: Tape<f32, Cpu>>(&self, x: Matrix<Cpu, U>) -> Matrix<Cpu, U> {
        conv_relu_pool(x, self.layer, self.dims)
    }
}

/// The decoder stage of one layer.
pub struct DecoderStage<'a> {
    /// The layer's weight `[9·out, in]` and bias.
    pub layer: &'a Affine<Cpu>,
    /// The activation after it.
    pub activation: Activation,
    /// Its sizes.
    pub dims: UpsampleConvDims,
}

impl CpuStage for DecoderStage<'_> {
    fn run<U: Tape<f32, Cpu>>(&self, x: Matrix<Cpu, U>) -> Matrix<Cpu, U> {
        upsample_conv(x, self.layer, self.activation, self.dims)
    }
}

/// Runs `stage` on `x` when `x` is a CPU tensor with one of dfdx's two tapes (always, for a
/// CPU network); gives `x` back otherwise.
pub fn run_on_cpu<D: Device<f32>, T: 'static>(
    x: Matrix<D, T>,
    stage: &impl CpuStage,
) -> Result<Matrix<D, T>, Matrix<D, T>> {
    let x = match cast::<_, Matrix<Cpu, OwnedTape<f32, Cpu>>>(x) {
        Ok(x) => return Ok(cast_back(stage.run(x))),
        Err(x) => x,
    };
    match cast::<_, Matrix<Cpu, NoneTape>>(x) {
        Ok(x) => Ok(cast_back(stage.run(x))),
        Err(x) => Err(x),
    }
}

/// `a` as a `B` if it is one.
fn cast<A: 'static, B: 'static>(a: A) -> Result<B, A> {
    let boxed: Box<dyn Any> = Box::new(a);
    match boxed.downcast::<B>() {
        Ok(b) => Ok(*b),
        Err(boxed) => Err(*boxed
            .downcast::<A>()
            .unwrap_or_else(|_| unreachable!("the value just boxed"))),
    }
}

/// A stage's output as the caller's type (the same type: [`run_on_cpu`] only runs a stage
/// after [`cast`] showed it).
fn cast_back<A: 'static, B: 'static>(a: A) -> B {
    cast(a).unwrap_or_else(|_| unreachable!("a stage's output has its input's type"))
}

/// The gradients of a stage's weight and bias (the input's is added into dfdx's buffer).
#[derive(Clone, Debug)]
pub struct ParamGradients {
    /// With respect to the weight.
    pub weight: Vec<f32>,
    /// With respect to the bias, `[out]`.
    pub bias: Vec<f32>,
}

/// The fused encoder stage on the CPU: conv + bias + ReLU + 2×2 max-pool of `x`
/// (`[in·h·w, batch]`), recorded on `x`'s tape.
pub fn conv_relu_pool<T: Tape<f32, Cpu>>(
    x: Matrix<Cpu, T>,
    layer: &Affine<Cpu>,
    d: ConvPoolDims,
) -> Matrix<Cpu, T> {
    let (x, mut tape) = x.split_tape();
    let input = x.as_vec();
    let weight = layer.weight.as_vec();
    let fwd = encoder_block::forward(&input, &weight, &layer.bias.as_vec(), d);
    let rows = fwd.output.len() / d.batch;
    let winner = fwd.winner;
    let out = x.device().tensor_from_vec(fwd.output, (rows, d.batch));
    if T::OWNS_TAPE {
        record_backward(&mut tape, &x, layer, &out, move |grad, input_grad| {
            encoder_block::backward(&input, &weight, &winner, grad, d, input_grad)
        });
    }
    out.put_tape(tape)
}

/// The fused decoder stage on the CPU: 2× upsample + conv + bias + `activation` of `x`
/// (`[in·small, batch]`), recorded on `x`'s tape.
pub fn upsample_conv<T: Tape<f32, Cpu>>(
    x: Matrix<Cpu, T>,
    layer: &Affine<Cpu>,
    activation: Activation,
    d: UpsampleConvDims,
) -> Matrix<Cpu, T> {
    let (x, mut tape) = x.split_tape();
    let input = x.as_vec();
    let weight = layer.weight.as_vec();
    let output = decoder_block::forward(&input, &weight, &layer.bias.as_vec(), activation, d);
    let rows = output.len() / d.batch;
    if !T::OWNS_TAPE {
        return x
            .device()
            .tensor_from_vec(output, (rows, d.batch))
            .put_tape(tape);
    }
    // The backward pass needs the output (the activation's slope); the tensor gets a copy.
    let out = x.device().tensor_from_vec(output.clone(), (rows, d.batch));
    record_backward(&mut tape, &x, layer, &out, move |grad, input_grad| {
        decoder_block::backward(&input, &weight, &output, grad, activation, d, input_grad)
    });
    out.put_tape(tape)
}

/// Records a fused stage's backward pass on `tape`: `backward(output_grad, input_grad)` adds
/// the input's gradient into `input_grad` and returns the layer's, which are added into
/// dfdx's gradients of `layer`.
fn record_backward<T: Tape<f32, Cpu>>(
    tape: &mut T,
    x: &Matrix<Cpu>,
    layer: &Affine<Cpu>,
    out: &Matrix<Cpu>,
    backward: impl FnOnce(&[f32], &mut [f32]) -> ParamGradients + 'static,
) {
    let (x_g, w_g, b_g, out_g) = (
        x.ghost(),
        layer.weight.ghost(),
        layer.bias.ghost(),
        out.ghost(),
    );
    tape.add_backward_op(move |grads| {
        // The output's gradient is moved out while the input's is borrowed, then put back.
        let grad = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
        let g = backward(&grad, grads.get_or_alloc_mut(&x_g)?);
        **grads.get_or_alloc_mut(&out_g)? = grad;
        add_into(grads.get_or_alloc_mut(&w_g)?, &g.weight);
        add_into(grads.get_or_alloc_mut(&b_g)?, &g.bias);
        Ok(())
    });
}

/// `acc += values`, element by element.
fn add_into(acc: &mut [f32], values: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(values) {
        *a += v;
    }
}
