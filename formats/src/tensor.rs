//! Tensor identities and shapes: the 16 network tensors, and the table entries that also
//! carry the class means and precision matrices.

use crate::arch::Architecture;

/// One of the 16 network tensors, numbered as in the tensor table (0..=15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum TensorId {
    /// Encoder conv1 kernel `[conv1][in_channels][3][3]`.
    EncConv1Weight = 0,
    /// Encoder conv1 bias `[conv1]`.
    EncConv1Bias = 1,
    /// Encoder conv2 kernel `[conv2][conv1][3][3]`.
    EncConv2Weight = 2,
    /// Encoder conv2 bias `[conv2]`.
    EncConv2Bias = 3,
    /// Encoder fc1 weight `[flat][hidden]`, input-major: element (i, o) at `i*hidden + o`.
    EncFc1Weight = 4,
    /// Encoder fc1 bias `[hidden]`.
    EncFc1Bias = 5,
    /// Encoder fc2 weight `[hidden][latent]`, input-major.
    EncFc2Weight = 6,
    /// Encoder fc2 bias `[latent]`.
    EncFc2Bias = 7,
    /// Decoder fc1 weight `[latent][hidden]`, input-major.
    DecFc1Weight = 8,
    /// Decoder fc1 bias `[hidden]`.
    DecFc1Bias = 9,
    /// Decoder fc2 weight `[hidden][flat]`, input-major.
    DecFc2Weight = 10,
    /// Decoder fc2 bias `[flat]`.
    DecFc2Bias = 11,
    /// Decoder conv1 kernel `[conv1][conv2][3][3]`.
    DecConv1Weight = 12,
    /// Decoder conv1 bias `[conv1]`.
    DecConv1Bias = 13,
    /// Decoder conv2 kernel `[in_channels][conv1][3][3]`.
    DecConv2Weight = 14,
    /// Decoder conv2 bias `[in_channels]`.
    DecConv2Bias = 15,
}

impl TensorId {
    /// Number of network tensors.
    pub const COUNT: usize = 16;

    /// All network tensors in table (id) order.
    pub const ALL: [TensorId; TensorId::COUNT] = [
        TensorId::EncConv1Weight,
        TensorId::EncConv1Bias,
        TensorId::EncConv2Weight,
        TensorId::EncConv2Bias,
        TensorId::EncFc1Weight,
        TensorId::EncFc1Bias,
        TensorId::EncFc2Weight,
        TensorId::EncFc2Bias,
        TensorId::DecFc1Weight,
        TensorId::DecFc1Bias,
        TensorId::DecFc2Weight,
        TensorId::DecFc2Bias,
        TensorId::DecConv1Weight,
        TensorId::DecConv1Bias,
        TensorId::DecConv2Weight,
        TensorId::DecConv2Bias,
    ];

    /// The tensor's numeric id in the table (0..=15), also its index in [`TensorId::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The tensor with table id `id`, if it is one of the 16.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.get(usize::from(id)).copied()
    }

    /// A stable dotted name, e.g. `"enc.conv1.weight"`.
    pub const fn name(self) -> &'static str {
        match self {
            TensorId::EncConv1Weight => "enc.conv1.weight",
            TensorId::EncConv1Bias => "enc.conv1.bias",
            TensorId::EncConv2Weight => "enc.conv2.weight",
            TensorId::EncConv2Bias => "enc.conv2.bias",
            TensorId::EncFc1Weight => "enc.fc1.weight",
            TensorId::EncFc1Bias => "enc.fc1.bias",
            TensorId::EncFc2Weight => "enc.fc2.weight",
            TensorId::EncFc2Bias => "enc.fc2.bias",
            TensorId::DecFc1Weight => "dec.fc1.weight",
            TensorId::DecFc1Bias => "dec.fc1.bias",
            TensorId::DecFc2Weight => "dec.fc2.weight",
            TensorId::DecFc2Bias => "dec.fc2.bias",
            TensorId::DecConv1Weight => "dec.conv1.weight",
            TensorId::DecConv1Bias => "dec.conv1.bias",
            TensorId::DecConv2Weight => "dec.conv2.weight",
            TensorId::DecConv2Bias => "dec.conv2.bias",
        }
    }

    /// The tensor's shape for `arch` (dimensions outermost first).
    pub const fn shape(self, arch: &Architecture) -> Shape {
        let a = arch;
        let f = a.flat_features();
        match self {
            TensorId::EncConv1Weight => Shape::new4(a.conv1, a.in_channels, 3, 3),
            TensorId::EncConv1Bias => Shape::new1(a.conv1),
            TensorId::EncConv2Weight => Shape::new4(a.conv2, a.conv1, 3, 3),
            TensorId::EncConv2Bias => Shape::new1(a.conv2),
            TensorId::EncFc1Weight => Shape::new2(f, a.hidden),
            TensorId::EncFc1Bias => Shape::new1(a.hidden),
            TensorId::EncFc2Weight => Shape::new2(a.hidden, a.latent),
            TensorId::EncFc2Bias => Shape::new1(a.latent),
            TensorId::DecFc1Weight => Shape::new2(a.latent, a.hidden),
            TensorId::DecFc1Bias => Shape::new1(a.hidden),
            TensorId::DecFc2Weight => Shape::new2(a.hidden, f),
            TensorId::DecFc2Bias => Shape::new1(f),
            TensorId::DecConv1Weight => Shape::new4(a.conv1, a.conv2, 3, 3),
            TensorId::DecConv1Bias => Shape::new1(a.conv1),
            TensorId::DecConv2Weight => Shape::new4(a.in_channels, a.conv1, 3, 3),
            TensorId::DecConv2Bias => Shape::new1(a.in_channels),
        }
    }
}

impl core::fmt::Display for TensorId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A tensor table entry: a network tensor, the class means, the precision matrices, or an
/// entry added by a newer minor version that this reader skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    /// Ids 0..=15: a network tensor.
    Tensor(TensorId),
    /// Id 16: class means `[classes][latent]`.
    ClassMeans,
    /// Id 17: precision matrices `[classes][latent][latent]`.
    Precisions,
    /// Ids ≥ 18 (newer minor versions only): not interpreted by this reader.
    Extension(u16),
}

impl Entry {
    /// Table id of the class means.
    pub const CLASS_MEANS_ID: u16 = 16;
    /// Table id of the precision matrices.
    pub const PRECISIONS_ID: u16 = 17;

    /// The entry with table id `id`.
    pub fn from_id(id: u16) -> Self {
        match id {
            Self::CLASS_MEANS_ID => Entry::ClassMeans,
            Self::PRECISIONS_ID => Entry::Precisions,
            _ => match TensorId::from_id(id) {
                Some(t) => Entry::Tensor(t),
                None => Entry::Extension(id),
            },
        }
    }

    /// The entry's table id.
    pub const fn id(self) -> u16 {
        match self {
            Entry::Tensor(t) => t as u16,
            Entry::ClassMeans => Self::CLASS_MEANS_ID,
            Entry::Precisions => Self::PRECISIONS_ID,
            Entry::Extension(id) => id,
        }
    }

    /// The entry's name: a tensor name, `"class_means"`, `"precisions"` or `"extension"`.
    pub const fn name(self) -> &'static str {
        match self {
            Entry::Tensor(t) => t.name(),
            Entry::ClassMeans => "class_means",
            Entry::Precisions => "precisions",
            Entry::Extension(_) => "extension",
        }
    }

    /// The required shape for `arch`; `None` for extension entries, whose shape is free.
    pub const fn shape(self, arch: &Architecture) -> Option<Shape> {
        match self {
            Entry::Tensor(t) => Some(t.shape(arch)),
            Entry::ClassMeans => Some(Shape::new2(arch.classes, arch.latent)),
            Entry::Precisions => Some(Shape::new3(arch.classes, arch.latent, arch.latent)),
            Entry::Extension(_) => None,
        }
    }
}

impl core::fmt::Display for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Entry::Extension(id) => write!(f, "extension entry {id}"),
            other => f.write_str(other.name()),
        }
    }
}

/// A tensor shape of rank 1 to 4, outermost dimension first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; 4],
    rank: usize,
}

impl Shape {
    /// A rank-1 shape of `len` elements.
    pub const fn vector(len: usize) -> Self {
        Self::new1(len)
    }

    const fn new1(a: usize) -> Self {
        Self {
            dims: [a, 0, 0, 0],
            rank: 1,
        }
    }
    const fn new2(a: usize, b: usize) -> Self {
        Self {
            dims: [a, b, 0, 0],
            rank: 2,
        }
    }
    const fn new3(a: usize, b: usize, c: usize) -> Self {
        Self {
            dims: [a, b, c, 0],
            rank: 3,
        }
    }
    const fn new4(a: usize, b: usize, c: usize, d: usize) -> Self {
        Self {
            dims: [a, b, c, d],
            rank: 4,
        }
    }

    /// Number of dimensions (1..=4).
    pub const fn rank(&self) -> usize {
        self.rank
    }

    /// The dimensions, outermost first (`rank` of them).
    pub fn dims(&self) -> &[usize] {
        self.dims.get(..self.rank).unwrap_or(&self.dims)
    }

    /// All four dimension slots; those past the rank are zero.
    pub const fn padded_dims(&self) -> [usize; 4] {
        self.dims
    }

    /// Number of elements (product of the dimensions), saturating at `usize::MAX`.
    pub fn len(&self) -> usize {
        self.dims()
            .iter()
            .fold(1usize, |acc, &d| acc.saturating_mul(d))
    }

    /// Whether the shape holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for (i, t) in TensorId::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(TensorId::from_id(i as u16), Some(*t));
            assert_eq!(Entry::from_id(i as u16), Entry::Tensor(*t));
        }
        assert_eq!(TensorId::from_id(16), None);
        assert_eq!(Entry::from_id(16), Entry::ClassMeans);
        assert_eq!(Entry::from_id(17), Entry::Precisions);
        assert_eq!(Entry::from_id(99), Entry::Extension(99));
        assert_eq!(Entry::Extension(99).id(), 99);
    }

    #[test]
    fn shapes_follow_the_contract() {
        let a = Architecture::MNIST_PAPER;
        assert_eq!(TensorId::EncFc1Weight.shape(&a).dims(), &[3136, 256]);
        assert_eq!(TensorId::DecConv2Weight.shape(&a).dims(), &[1, 32, 3, 3]);
        assert_eq!(Entry::Precisions.shape(&a).unwrap().dims(), &[10, 10, 10]);
        assert_eq!(TensorId::EncConv2Weight.shape(&a).len(), 64 * 32 * 9);
    }
}
