//! The one supported architecture family: its sizes, its layer list, and the check that a
//! file's layer records are exactly that list.

use crate::bytes::{u16_at, u32_at, u32_to_usize};
use crate::error::{Dim, FormatError};
use crate::layout::{layer as field, ENTRY_COUNT, LAYER_COUNT, LAYER_RECORD_LEN};
use crate::limits::{MAX_CHANNELS, MAX_CLASSES, MAX_FILE_LEN, MAX_HIDDEN, MAX_LATENT, MAX_SPATIAL};
use crate::tensor::Entry;

/// The sizes of a model of the supported family (see `SPEC.md`, "Architecture").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Architecture {
    /// Input channels `C`.
    pub in_channels: usize,
    /// Input height `H` (multiple of 4).
    pub height: usize,
    /// Input width `W` (multiple of 4).
    pub width: usize,
    /// Channels of encoder conv1 (and decoder conv1's output).
    pub conv1: usize,
    /// Channels of encoder conv2 (and the decoder's reshape).
    pub conv2: usize,
    /// Width of the dense hidden layers.
    pub hidden: usize,
    /// Latent dimension (≥ `classes`).
    pub latent: usize,
    /// Number of classes.
    pub classes: usize,
}

/// What a layer record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum LayerKind {
    /// The input image.
    Input = 1,
    /// 2-D convolution.
    Conv2d = 2,
    /// 2-D max pooling.
    MaxPool2d = 3,
    /// Flatten `(c, y, x)` to features, in that order.
    Flatten = 4,
    /// Dense (fully connected) layer, input-major weights.
    Dense = 5,
    /// Reshape features to `(c, y, x)`.
    Reshape = 6,
    /// Nearest-neighbour 2-D upsampling.
    Upsample2d = 7,
}

/// The activation applied after a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Activation {
    /// None.
    Identity = 0,
    /// `max(x, 0)`.
    Relu = 1,
    /// `1 / (1 + exp(-x))`.
    Sigmoid = 2,
}

/// One layer record of the architecture section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layer {
    /// The layer kind.
    pub kind: LayerKind,
    /// The activation after it.
    pub activation: Activation,
    /// Input channels (spatial layers) or features (dense, flatten, reshape).
    pub inputs: u32,
    /// Output channels or features.
    pub outputs: u32,
    /// Height of the layer's input (its output for `Reshape`); 0 for dense layers.
    pub height: u32,
    /// Width, as `height`.
    pub width: u32,
    /// Kernel size (conv), window (pool) or scale factor (upsample); else 0.
    pub kernel: u8,
    /// Stride (conv, pool); else 0.
    pub stride: u8,
    /// Zero padding on each side (conv); else 0.
    pub padding: u8,
}

/// The family's kinds and activations, record by record.
const FAMILY: [(LayerKind, Activation); LAYER_COUNT] = [
    (LayerKind::Input, Activation::Identity),
    (LayerKind::Conv2d, Activation::Relu),
    (LayerKind::MaxPool2d, Activation::Identity),
    (LayerKind::Conv2d, Activation::Relu),
    (LayerKind::MaxPool2d, Activation::Identity),
    (LayerKind::Flatten, Activation::Identity),
    (LayerKind::Dense, Activation::Relu),
    (LayerKind::Dense, Activation::Identity),
    (LayerKind::Dense, Activation::Relu),
    (LayerKind::Dense, Activation::Relu),
    (LayerKind::Reshape, Activation::Identity),
    (LayerKind::Upsample2d, Activation::Identity),
    (LayerKind::Conv2d, Activation::Relu),
    (LayerKind::Upsample2d, Activation::Identity),
    (LayerKind::Conv2d, Activation::Sigmoid),
];

impl Architecture {
    /// The MNIST model of the paper: 1×28×28, conv 32/64, hidden 256, latent 10, 10 classes.
    pub const MNIST_PAPER: Architecture = Architecture {
        in_channels: 1,
        height: 28,
        width: 28,
        conv1: 32,
        conv2: 64,
        hidden: 256,
        latent: 10,
        classes: 10,
    };

    /// Flattened encoder features `F = conv2 · (H/4) · (W/4)` (saturating).
    pub const fn flat_features(&self) -> usize {
        self.conv2
            .saturating_mul(self.height / 4)
            .saturating_mul(self.width / 4)
    }

    /// Number of `f32` parameters in the 16 network tensors (saturating; excludes the
    /// class means and precision matrices).
    pub fn param_count(&self) -> usize {
        crate::tensor::TensorId::ALL
            .iter()
            .fold(0usize, |acc, t| acc.saturating_add(t.shape(self).len()))
    }

    /// Checks the maxima, then the family's rules: every size ≥ 1, `H` and `W` multiples of
    /// 4, `latent ≥ classes`, and all 18 table entries together at most
    /// [`MAX_FILE_LEN`] bytes.
    pub fn validate(&self) -> Result<(), FormatError> {
        let sizes = [
            (Dim::InChannels, self.in_channels, MAX_CHANNELS),
            (Dim::Height, self.height, MAX_SPATIAL),
            (Dim::Width, self.width, MAX_SPATIAL),
            (Dim::Conv1, self.conv1, MAX_CHANNELS),
            (Dim::Conv2, self.conv2, MAX_CHANNELS),
            (Dim::Hidden, self.hidden, MAX_HIDDEN),
            (Dim::Latent, self.latent, MAX_LATENT),
            (Dim::Classes, self.classes, MAX_CLASSES),
        ];
        for (dim, value, max) in sizes {
            if value > max {
                return Err(FormatError::DimensionTooLarge {
                    dim,
                    value: value as u64,
                    max: max as u64,
                });
            }
        }
        for (dim, value, _) in sizes {
            if value == 0 {
                return Err(FormatError::InvalidDimension { dim, value: 0 });
            }
        }
        for (dim, value) in [(Dim::Height, self.height), (Dim::Width, self.width)] {
            if value % 4 != 0 {
                return Err(FormatError::InvalidDimension {
                    dim,
                    value: value as u64,
                });
            }
        }
        if self.latent < self.classes {
            return Err(FormatError::InvalidDimension {
                dim: Dim::Latent,
                value: self.latent as u64,
            });
        }
        // All sizes are now ≤ 2^16, so these products fit in u64 with room to spare.
        let max_elements = (MAX_FILE_LEN / 4) as u64;
        let mut total = 0u64;
        for id in 0..ENTRY_COUNT as u16 {
            let Some(shape) = Entry::from_id(id).shape(self) else {
                continue;
            };
            let n = shape
                .dims()
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
            total = n.and_then(|n| total.checked_add(n)).unwrap_or(u64::MAX);
        }
        if total > max_elements {
            return Err(FormatError::DimensionTooLarge {
                dim: Dim::Parameters,
                value: total,
                max: max_elements,
            });
        }
        Ok(())
    }

    /// The 15 layer records describing this architecture (sizes saturate at `u32::MAX`
    /// for an architecture that fails [`Architecture::validate`]).
    // `FAMILY[i]` is only called with the literal indices 0..LAYER_COUNT below.
    #[allow(clippy::indexing_slicing)]
    pub fn layers(&self) -> [Layer; LAYER_COUNT] {
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        let (c, c1, c2) = (n(self.in_channels), n(self.conv1), n(self.conv2));
        let (h, w) = (n(self.height), n(self.width));
        let (h2, w2, h4, w4) = (h / 2, w / 2, h / 4, w / 4);
        let (f, hid, lat) = (n(self.flat_features()), n(self.hidden), n(self.latent));
        let l = |i: usize, inputs, outputs, height, width, kernel, stride, padding| {
            let (kind, activation) = FAMILY[i];
            Layer {
                kind,
                activation,
                inputs,
                outputs,
                height,
                width,
                kernel,
                stride,
                padding,
            }
        };
        [
            l(0, c, c, h, w, 0, 0, 0),
            l(1, c, c1, h, w, 3, 1, 1),
            l(2, c1, c1, h, w, 2, 2, 0),
            l(3, c1, c2, h2, w2, 3, 1, 1),
            l(4, c2, c2, h2, w2, 2, 2, 0),
            l(5, c2, f, h4, w4, 0, 0, 0),
            l(6, f, hid, 0, 0, 0, 0, 0),
            l(7, hid, lat, 0, 0, 0, 0, 0),
            l(8, lat, hid, 0, 0, 0, 0, 0),
            l(9, hid, f, 0, 0, 0, 0, 0),
            l(10, f, c2, h4, w4, 0, 0, 0),
            l(11, c2, c2, h4, w4, 2, 0, 0),
            l(12, c2, c1, h2, w2, 3, 1, 1),
            l(13, c1, c1, h2, w2, 2, 0, 0),
            l(14, c1, c, h, w, 3, 1, 1),
        ]
    }

    /// Reads and checks the architecture records (`count` records of `record_len` bytes in
    /// `records`); `classes` comes from the calibration block.
    pub(crate) fn parse(
        records: &[u8],
        count: usize,
        record_len: usize,
        classes: u32,
    ) -> Result<Self, FormatError> {
        if count != LAYER_COUNT {
            return Err(FormatError::UnsupportedArchitecture {
                layer: count.min(LAYER_COUNT),
            });
        }
        let record = |i: usize| -> &[u8] {
            i.checked_mul(record_len)
                .and_then(|start| records.get(start..start.checked_add(LAYER_RECORD_LEN)?))
                .unwrap_or(&[])
        };
        // 1. Kinds and activations, before any size is trusted.
        for (i, (kind, activation)) in FAMILY.iter().enumerate() {
            let r = record(i);
            if u16_at(r, field::KIND) != Some(*kind as u16)
                || u16_at(r, field::ACTIVATION) != Some(*activation as u16)
            {
                return Err(FormatError::UnsupportedArchitecture { layer: i });
            }
        }
        // 2. Sizes, from the records that define them, against the maxima and rules.
        let get = |i: usize, offset: usize| u32_to_usize(u32_at(record(i), offset).unwrap_or(0));
        let arch = Architecture {
            in_channels: get(0, field::INPUTS),
            height: get(0, field::HEIGHT),
            width: get(0, field::WIDTH),
            conv1: get(1, field::OUTPUTS),
            conv2: get(3, field::OUTPUTS),
            hidden: get(6, field::OUTPUTS),
            latent: get(7, field::OUTPUTS),
            classes: u32_to_usize(classes),
        };
        arch.validate()?;
        // 3. Every record exactly as the family prescribes for these sizes.
        for (i, expected) in arch.layers().iter().enumerate() {
            if record(i) != expected.to_bytes().as_slice() {
                return Err(FormatError::UnsupportedArchitecture { layer: i });
            }
        }
        Ok(arch)
    }
}

impl Layer {
    /// The record's 24 bytes as written in a 1.0 file.
    pub fn to_bytes(&self) -> [u8; LAYER_RECORD_LEN] {
        use byteorder::{ByteOrder, LittleEndian as Le};
        let mut b = [0u8; LAYER_RECORD_LEN];
        Le::write_u16(&mut b[field::KIND..], self.kind as u16);
        Le::write_u16(&mut b[field::ACTIVATION..], self.activation as u16);
        Le::write_u32(&mut b[field::INPUTS..], self.inputs);
        Le::write_u32(&mut b[field::OUTPUTS..], self.outputs);
        Le::write_u32(&mut b[field::HEIGHT..], self.height);
        Le::write_u32(&mut b[field::WIDTH..], self.width);
        b[field::KERNEL] = self.kernel;
        b[field::STRIDE] = self.stride;
        b[field::PADDING] = self.padding;
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Architecture {
        Architecture {
            in_channels: 1,
            height: 4,
            width: 4,
            conv1: 2,
            conv2: 2,
            hidden: 3,
            latent: 2,
            classes: 2,
        }
    }

    fn records(a: &Architecture) -> [u8; LAYER_COUNT * LAYER_RECORD_LEN] {
        let mut out = [0u8; LAYER_COUNT * LAYER_RECORD_LEN];
        for (chunk, l) in out.chunks_mut(LAYER_RECORD_LEN).zip(a.layers()) {
            chunk.copy_from_slice(&l.to_bytes());
        }
        out
    }

    #[test]
    fn paper_sizes() {
        let a = Architecture::MNIST_PAPER;
        assert_eq!(a.flat_features(), 3136);
        assert_eq!(a.validate(), Ok(()));
        assert_eq!(
            a.param_count(),
            (288 + 32)
                + (18432 + 64)
                + (802816 + 256)
                + (2560 + 10)
                + (2560 + 256)
                + (802816 + 3136)
                + (18432 + 32)
                + (288 + 1)
        );
    }

    #[test]
    fn records_round_trip() {
        let a = tiny();
        let r = records(&a);
        assert_eq!(
            Architecture::parse(&r, LAYER_COUNT, LAYER_RECORD_LEN, 2),
            Ok(a)
        );
    }

    #[test]
    fn rejects_wrong_family() {
        let a = tiny();
        let mut r = records(&a);
        r[7 * LAYER_RECORD_LEN + field::ACTIVATION] = Activation::Relu as u8;
        assert_eq!(
            Architecture::parse(&r, LAYER_COUNT, LAYER_RECORD_LEN, 2),
            Err(FormatError::UnsupportedArchitecture { layer: 7 })
        );
        let r = records(&a);
        assert_eq!(
            Architecture::parse(&r, 14, LAYER_RECORD_LEN, 2),
            Err(FormatError::UnsupportedArchitecture { layer: 14 })
        );
        let mut r = records(&a);
        r[12 * LAYER_RECORD_LEN + field::KERNEL] = 5;
        assert_eq!(
            Architecture::parse(&r, LAYER_COUNT, LAYER_RECORD_LEN, 2),
            Err(FormatError::UnsupportedArchitecture { layer: 12 })
        );
    }

    #[test]
    fn validate_rules() {
        let mut a = tiny();
        a.height = 6;
        assert_eq!(
            a.validate(),
            Err(FormatError::InvalidDimension {
                dim: Dim::Height,
                value: 6
            })
        );
        let mut a = tiny();
        a.classes = 3;
        assert!(matches!(
            a.validate(),
            Err(FormatError::InvalidDimension {
                dim: Dim::Latent,
                ..
            })
        ));
        let mut a = tiny();
        a.hidden = MAX_HIDDEN + 1;
        assert!(matches!(
            a.validate(),
            Err(FormatError::DimensionTooLarge {
                dim: Dim::Hidden,
                ..
            })
        ));
        let a = Architecture {
            in_channels: 1024,
            height: 1024,
            width: 1024,
            conv1: 1024,
            conv2: 1024,
            hidden: 65536,
            latent: 128,
            classes: 128,
        };
        assert!(matches!(
            a.validate(),
            Err(FormatError::DimensionTooLarge {
                dim: Dim::Parameters,
                ..
            })
        ));
        let mut a = tiny();
        a.conv1 = 0;
        assert_eq!(
            a.validate(),
            Err(FormatError::InvalidDimension {
                dim: Dim::Conv1,
                value: 0
            })
        );
    }
}
