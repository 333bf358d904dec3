//! The network's forward passes over the workspace: the encoder `z = f(x)` and the decoder
//! `x̂ = g(z)`. Buffer placement comes from [`crate::layout`]; the arithmetic from
//! [`crate::kernels`].

use gmvae_format::TensorId;

use crate::error::Error;
use crate::isa::dispatch;
use crate::kernels::decoder_conv1_forward::{window_upconv, WindowScratch, WindowUpconv};
use crate::kernels::decoder_conv2_forward::upsample_conv3x3;
use crate::kernels::dense_forward::{compact_nonzero, dense};
use crate::kernels::encoder_conv_forward::conv3x3_same;
use crate::kernels::encoder_pool_forward::relu_maxpool2;
use crate::kernels::folded_weights::{fold_channel_minor, fold_len};
use crate::kernels::pad::{copy_into_planes, zero_border};
use crate::kernels::relu::{relu, relu_in_place};
use crate::kernels::sigmoid::sigmoid;
use crate::kernels::Planes;
use crate::layout::{Dims, Span};
use crate::model::Model;

/// Where the decoder writes the reconstruction.
pub(crate) enum Sink<'o> {
    /// The workspace's `recon` span.
    Workspace,
    /// A caller buffer of `C·H·W` values.
    Caller(&'o mut [f32]),
}

/// Where decoder conv1's folded kernel ([`fold_channel_minor`]) comes from.
pub(crate) enum Conv1Kernel<'k> {
    /// Fold it from the model's weights into the workspace's `fold` span (classify: once per
    /// call).
    Fold,
    /// Already folded (reclassification folds it once per call, for every step).
    Folded(&'k [f32]),
}

/// Disjoint mutable views of `K` workspace spans.
pub(crate) fn spans<const K: usize>(
    ws: &mut [f32],
    s: [Span; K],
) -> Result<[&mut [f32]; K], Error> {
    ws.get_disjoint_mut(s.map(Span::range))
        .map_err(|_| Error::Internal)
}

pub(crate) fn geometry(p: Option<Planes>) -> Result<Planes, Error> {
    p.ok_or(Error::Internal)
}

impl Model<'_> {
    /// The little-endian words of network tensor `id`.
    pub(crate) fn weights(&self, id: TensorId) -> &[[u8; 4]] {
        self.view().tensor(id).words()
    }

    /// `compact(input) → dense(weights, bias) → out`, with `vals`/`idx` as the compaction
    /// scratch.
    pub(crate) fn dense_layer(
        &self,
        ws: &mut [f32],
        input: Span,
        scratch: (Span, Span),
        out: Span,
        weight: TensorId,
        bias: TensorId,
    ) -> Result<(), Error> {
        let [x, vals, idx, y] = spans(ws, [input, scratch.0, scratch.1, out])?;
        let (w, b) = (self.weights(weight), self.weights(bias));
        dispatch!(self.isa(), {
            let n = compact_nonzero(x, vals, idx)?;
            let (vals, idx) = vals.get(..n).zip(idx.get(..n)).ok_or(Error::Internal)?;
            dense(vals, idx, input.len, w, b, y)?;
            Ok(())
        })
    }

    /// Runs the encoder on a validated image; leaves `z` in the layout's `z` span. Each
    /// layer reads only what the one before it wrote.
    pub(crate) fn encode_ws(&self, image: &[f32], ws: &mut [f32]) -> Result<(), Error> {
        self.encoder_input(image, ws)?;
        self.encoder_conv1(ws)?;
        self.encoder_pool1(ws)?;
        self.encoder_conv2(ws)?;
        self.encoder_pool2(ws)?;
        self.encoder_fc1(ws)?;
        self.encoder_fc2(ws)
    }

    /// The image into the zero-padded planes `in_pad`.
    pub(crate) fn encoder_input(&self, image: &[f32], ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let [in_pad] = spans(ws, [l.in_pad])?;
        zero_border(in_pad, d.c, d.h, d.w)?;
        copy_into_planes(
            image,
            d.c,
            d.h,
            d.w,
            in_pad,
            geometry(Dims::padded(d.h, d.w))?,
            |v| v,
        )?;
        Ok(())
    }

    /// Encoder conv1: `in_pad` → `c1_out`.
    pub(crate) fn encoder_conv1(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let [in_pad, c1_out] = spans(ws, [l.in_pad, l.c1_out])?;
        let (w, b) = (
            self.weights(TensorId::EncConv1Weight),
            self.weights(TensorId::EncConv1Bias),
        );
        dispatch!(self.isa(), {
            conv3x3_same(in_pad, d.c, d.h, d.w, w, b, c1_out, d.c1)
        })?;
        Ok(())
    }

    /// ReLU and the first pool: `c1_out` → `p1_pad`.
    pub(crate) fn encoder_pool1(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let [c1_out, p1_pad] = spans(ws, [l.c1_out, l.p1_pad])?;
        zero_border(p1_pad, d.c1, d.h2, d.w2)?;
        let (src, dst) = (
            geometry(Dims::flat_out(d.h, d.w))?,
            geometry(Dims::padded(d.h2, d.w2))?,
        );
        relu_maxpool2(c1_out, src, d.c1, d.h2, d.w2, p1_pad, dst)?;
        Ok(())
    }

    /// Encoder conv2: `p1_pad` → `c2_out`.
    pub(crate) fn encoder_conv2(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let [p1_pad, c2_out] = spans(ws, [l.p1_pad, l.c2_out])?;
        let (w, b) = (
            self.weights(TensorId::EncConv2Weight),
            self.weights(TensorId::EncConv2Bias),
        );
        dispatch!(self.isa(), {
            conv3x3_same(p1_pad, d.c1, d.h2, d.w2, w, b, c2_out, d.c2)
        })?;
        Ok(())
    }

    /// ReLU and the second pool: `c2_out` → `flat`.
    pub(crate) fn encoder_pool2(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let [c2_out, flat] = spans(ws, [l.c2_out, l.flat])?;
        let (src, dst) = (
            geometry(Dims::flat_out(d.h2, d.w2))?,
            geometry(Dims::dense(d.h4, d.w4))?,
        );
        relu_maxpool2(c2_out, src, d.c2, d.h4, d.w4, flat, dst)?;
        Ok(())
    }

    /// Encoder fc1 and its ReLU: `flat` → `h1`.
    pub(crate) fn encoder_fc1(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let flat_scratch = (l.flat_vals, l.flat_idx);
        self.dense_layer(
            ws,
            l.flat,
            flat_scratch,
            l.h1,
            TensorId::EncFc1Weight,
            TensorId::EncFc1Bias,
        )?;
        let [h1] = spans(ws, [l.h1])?;
        relu_in_place(h1);
        Ok(())
    }

    /// Encoder fc2: `h1` → `z`.
    pub(crate) fn encoder_fc2(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let small_scratch = (l.sparse_vals, l.sparse_idx);
        self.dense_layer(
            ws,
            l.h1,
            small_scratch,
            l.z,
            TensorId::EncFc2Weight,
            TensorId::EncFc2Bias,
        )
    }

    /// Decoder conv1 (`d_pad` → `u_pad`) from the non-zero values of `d` only: most of it is
    /// ReLU zeros.
    pub(crate) fn decoder_conv1(
        &self,
        ws: &mut [f32],
        kernel: Conv1Kernel<'_>,
    ) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let regions = [
            l.d_pad,
            l.fold,
            l.u_pad,
            l.conv1_values,
            l.conv1_offsets,
            l.conv1_starts,
        ];
        let [d_pad, fold, u_pad, values, offsets, starts] = spans(ws, regions)?;
        zero_border(u_pad, d.c1, d.h2, d.w2)?;
        let folded = match kernel {
            Conv1Kernel::Folded(k) => k,
            Conv1Kernel::Fold => {
                let len = fold_len(d.c2, d.c1).ok_or(Error::Internal)?;
                let folded = fold.get_mut(..len).ok_or(Error::Internal)?;
                fold_channel_minor(self.weights(TensorId::DecConv1Weight), d.c2, d.c1, folded)?;
                folded
            }
        };
        let conv = WindowUpconv {
            input: d_pad,
            cin: d.c2,
            h: d.h4,
            w: d.w4,
            folded,
            bias: self.weights(TensorId::DecConv1Bias),
            cout: d.c1,
        };
        let dst = geometry(Dims::padded(d.h2, d.w2))?;
        dispatch!(self.isa(), {
            let scratch = WindowScratch {
                values,
                offsets,
                starts,
            };
            window_upconv(&conv, scratch, u_pad, dst, relu)
        })?;
        Ok(())
    }

    /// Runs the decoder on the `z` span and writes the reconstruction to `sink`.
    pub(crate) fn decode_ws(&self, ws: &mut [f32], sink: Sink<'_>) -> Result<(), Error> {
        self.decoder_fc1(ws)?;
        self.decoder_fc2(ws)?;
        self.decode_convolutions(ws, sink, Conv1Kernel::Fold)
    }

    /// Decoder fc1 and its ReLU: `z` → `dh`.
    pub(crate) fn decoder_fc1(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let small_scratch = (l.sparse_vals, l.sparse_idx);
        self.dense_layer(
            ws,
            l.z,
            small_scratch,
            l.dh,
            TensorId::DecFc1Weight,
            TensorId::DecFc1Bias,
        )?;
        let [dh] = spans(ws, [l.dh])?;
        relu_in_place(dh);
        Ok(())
    }

    /// Decoder fc2, and its ReLU while reshaping: `dh` → `dflat` → `d_pad`.
    pub(crate) fn decoder_fc2(&self, ws: &mut [f32]) -> Result<(), Error> {
        let l = self.layout();
        let small_scratch = (l.sparse_vals, l.sparse_idx);
        self.dense_layer(
            ws,
            l.dh,
            small_scratch,
            l.dflat,
            TensorId::DecFc2Weight,
            TensorId::DecFc2Bias,
        )?;
        let [dflat, d_pad] = spans(ws, [l.dflat, l.d_pad])?;
        self.unflatten(dflat, d_pad)
    }

    /// Decoder fc2's output `dflat` (`[c2 · h4 · w4]`) through its ReLU into the padded
    /// planes `d_pad`, decoder conv1's input.
    pub(crate) fn unflatten(&self, dflat: &[f32], d_pad: &mut [f32]) -> Result<(), Error> {
        let d = &self.layout().dims;
        zero_border(d_pad, d.c2, d.h4, d.w4)?;
        copy_into_planes(
            dflat,
            d.c2,
            d.h4,
            d.w4,
            d_pad,
            geometry(Dims::padded(d.h4, d.w4))?,
            relu,
        )?;
        Ok(())
    }

    /// The decoder's two upsampling convolutions, from `d_pad` (see [`Model::unflatten`])
    /// to the reconstruction in `sink`.
    pub(crate) fn decode_convolutions(
        &self,
        ws: &mut [f32],
        sink: Sink<'_>,
        conv1: Conv1Kernel<'_>,
    ) -> Result<(), Error> {
        self.decoder_conv1(ws, conv1)?;
        self.decoder_conv2(ws, sink)
    }

    /// Decoder conv2 and the sigmoid: `u_pad` → the reconstruction in `sink`.
    pub(crate) fn decoder_conv2(&self, ws: &mut [f32], sink: Sink<'_>) -> Result<(), Error> {
        let l = self.layout();
        let d = &l.dims;
        let (w, b) = (
            self.weights(TensorId::DecConv2Weight),
            self.weights(TensorId::DecConv2Bias),
        );
        let dst = geometry(Dims::dense(d.h, d.w))?;
        let (u_pad, fold, tmp, out) = match sink {
            Sink::Workspace => {
                let [u_pad, fold, tmp, out] = spans(ws, [l.u_pad, l.fold, l.tmp, l.recon])?;
                (u_pad, fold, tmp, out)
            }
            Sink::Caller(out) => {
                let [u_pad, fold, tmp] = spans(ws, [l.u_pad, l.fold, l.tmp])?;
                (u_pad, fold, tmp, out)
            }
        };
        dispatch!(self.isa(), {
            upsample_conv3x3(
                u_pad, d.c1, d.h2, d.w2, w, b, d.c, fold, tmp, out, dst, sigmoid,
            )
        })?;
        Ok(())
    }
}
