//! Writer → reader → writer round trips, determinism and forward compatibility.

mod common;

use common::{model, tiny, tiny_bytes, TINY};
use gmvae_format::{
    corrupt, layout, Architecture, CovarianceKind, FormatError, ModelFile, ModelView,
    TauDecStatistic, TensorId, WriteError,
};
use proptest::prelude::*;

#[test]
fn tiny_file_round_trips_exactly() {
    let file = tiny();
    let bytes = file.to_bytes().unwrap();
    assert_eq!(bytes, file.to_bytes().unwrap(), "deterministic");
    let view = ModelView::parse(&bytes).unwrap();
    assert_eq!(view.version(), (1, 0));
    assert_eq!(view.architecture(), TINY);
    assert_eq!(view.file_len(), bytes.len());
    assert_eq!(view.dataset_name(), "tiny-mnist");
    assert_eq!(view.class_name(1), Some("digit 1"));
    assert_eq!(view.class_name(2), None);
    assert_eq!(view.calibration(), file.calibration);
    for t in TensorId::ALL {
        let got: Vec<f32> = view.tensor(t).iter().collect();
        assert_eq!(got, file.tensor(t), "{t}");
        assert_eq!(view.tensor(t).len(), t.shape(&TINY).len());
    }
    assert_eq!(view.class_mean(1).unwrap().get(1), Some(1.0));
    assert_eq!(view.precision(1).unwrap().len(), 4);
    assert!(view.precision(2).is_none());
    let back = ModelFile::from_view(&view);
    assert_eq!(back, file);
    assert_eq!(back.to_bytes().unwrap(), bytes);
}

#[test]
fn layout_of_the_tiny_file() {
    let bytes = tiny_bytes();
    assert_eq!(&bytes[..8], &layout::MAGIC);
    // Every tensor offset is 16-byte aligned and the trailer is the CRC of the rest.
    let view = ModelView::parse(&bytes).unwrap();
    let base = bytes.as_ptr() as usize;
    for t in TensorId::ALL {
        let off = view.tensor(t).words().as_ptr() as usize - base;
        assert_eq!(off % 16, 0, "{t}");
    }
    let end = bytes.len() - 4;
    assert_eq!(
        u32::from_le_bytes(bytes[end..].try_into().unwrap()),
        gmvae_format::crc32(&bytes[..end])
    );
}

#[test]
fn future_minor_version_is_read_as_1_0() {
    for covariance in [CovarianceKind::Isotropic, CovarianceKind::PerClass] {
        let file = model(TINY, covariance, 3);
        let future = corrupt::future_minor(&file).unwrap();
        let view = ModelView::parse(&future).unwrap();
        assert_eq!(view.version(), (1, layout::MINOR + 1));
        let back = ModelFile::from_view(&view);
        assert_eq!(back, file);
        assert_eq!(back.to_bytes().unwrap(), file.to_bytes().unwrap());
    }
}

#[test]
fn extended_structures_are_rejected_without_a_newer_minor() {
    let file = tiny();
    let mut future = corrupt::future_minor(&file).unwrap();
    future[layout::header::MINOR..layout::header::MINOR + 2]
        .copy_from_slice(&layout::MINOR.to_le_bytes());
    corrupt::refresh_crc(&mut future);
    assert!(matches!(
        ModelView::parse(&future),
        Err(FormatError::BadLayout { .. })
    ));
}

#[test]
fn writer_rejects_what_the_reader_would() {
    let mut f = tiny();
    f.calibration.tau_dec = f32::INFINITY;
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::Invalid(FormatError::BadThreshold { .. }))
    ));
    let mut f = tiny();
    f.tensors[4].pop();
    assert!(matches!(f.to_bytes(), Err(WriteError::WrongLength { .. })));
    let mut f = tiny();
    f.class_names.pop();
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::ClassNameCount { .. })
    ));
    let mut f = tiny();
    f.dataset_name = "x".repeat(65);
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::Invalid(FormatError::StringTooLong {
            index: 0,
            len: 65
        }))
    ));
    let mut f = tiny();
    f.precisions[1] += 1.0; // (0,1) of class 0 no longer equals (1,0)
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::Invalid(FormatError::NotSymmetric {
            class: 0,
            row: 1,
            col: 0
        }))
    ));
    let mut f = model(TINY, CovarianceKind::Isotropic, 1);
    f.precisions[0] *= 2.0;
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::Invalid(FormatError::PrecisionMismatch {
            class: 0,
            row: 0,
            col: 0
        }))
    ));
    let mut f = model(TINY, CovarianceKind::Isotropic, 1);
    f.precisions[1] = 1e-30;
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::Invalid(FormatError::NotSymmetric {
            class: 0,
            row: 1,
            col: 0
        }))
    ));
    f.precisions[2] = 1e-30;
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::Invalid(FormatError::PrecisionMismatch {
            class: 0,
            row: 0,
            col: 1
        }))
    ));
    let mut f = tiny();
    f.architecture.width = 6;
    assert!(matches!(
        f.to_bytes(),
        Err(WriteError::Invalid(FormatError::InvalidDimension { .. }))
    ));
}

#[test]
fn isotropic_diagonal_may_be_rounded_from_f64() {
    // 1/s2 rounded from f64 differs from the f32 quotient for many s2; both are accepted.
    for k in 1..200u32 {
        let s2_64 = 1.0 / f64::from(k) + 1e-7;
        let mut f = model(TINY, CovarianceKind::Isotropic, 1);
        f.calibration.s2 = s2_64 as f32;
        f.precisions = gmvae_format::isotropic_precisions(&TINY, f.calibration.s2);
        // Class 0's diagonal (latent 2: elements 0 and 3) rounded from f64, class 1's in f32.
        f.precisions[0] = (1.0 / s2_64) as f32;
        f.precisions[3] = (1.0 / s2_64) as f32;
        f.to_bytes().unwrap();
    }
}

#[test]
fn paper_and_edge_sizes() {
    let cal = common::calibration(CovarianceKind::PerClass);
    let paper = Architecture::MNIST_PAPER;
    let edge = Architecture {
        conv1: 8,
        conv2: 16,
        hidden: 64,
        ..paper
    };
    for (name, arch) in [("paper", paper), ("edge", edge)] {
        let mut f = ModelFile::new(arch, cal).unwrap();
        f.dataset_name = "mnist".into();
        let bytes = f.to_bytes().unwrap();
        let view = ModelView::parse(&bytes).unwrap();
        println!(
            "{name}: params {} file {} bytes",
            arch.param_count(),
            view.file_len()
        );
        assert!(bytes.len() > 4 * arch.param_count());
    }
}

fn arb_arch() -> impl Strategy<Value = Architecture> {
    (
        1usize..=2,
        1usize..=2,
        1usize..=2,
        1usize..=3,
        1usize..=3,
        1usize..=4,
        1usize..=4,
    )
        .prop_flat_map(|(c, h, w, c1, c2, hidden, latent)| {
            (1..=latent).prop_map(move |classes| Architecture {
                in_channels: c,
                height: 4 * h,
                width: 4 * w,
                conv1: c1,
                conv2: c2,
                hidden,
                latent,
                classes,
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn write_parse_from_view_write_is_identity(
        arch in arb_arch(),
        per_class in any::<bool>(),
        seed in any::<u64>(),
        dataset in "\\PC{0,10}",
        names in prop::collection::vec("\\PC{0,6}", 4),
        tau in (1e-3f32..1e6, 1e-3f32..1e6),
        quantile in any::<bool>(),
        samples in 1u64..u64::MAX,
    ) {
        let covariance = if per_class { CovarianceKind::PerClass } else { CovarianceKind::Isotropic };
        let mut f = model(arch, covariance, seed);
        f.dataset_name = dataset;
        f.class_names = names[..arch.classes].to_vec();
        f.calibration.tau_enc = tau.0;
        f.calibration.tau_dec = tau.1;
        f.calibration.samples = samples;
        f.calibration.tau_dec_statistic = if quantile {
            TauDecStatistic::Quantile { level: 0.95 }
        } else {
            TauDecStatistic::MeanPlusKStd { k: 3.0 }
        };
        let bytes = f.to_bytes().unwrap();
        let view = ModelView::parse(&bytes).unwrap();
        let back = ModelFile::from_view(&view);
        prop_assert_eq!(&back, &f);
        prop_assert_eq!(back.to_bytes().unwrap(), bytes);
    }
}

/// The worked example of `SPEC.md`, section 13, byte for byte.
#[test]
fn spec_worked_example() {
    let mut f = ModelFile::new(TINY, common::calibration(CovarianceKind::Isotropic)).unwrap();
    f.dataset_name = "mnist".into();
    f.class_names = vec!["zero".into(), "one".into()];
    let b = f.to_bytes().unwrap();
    let header: [u8; 64] = [
        0x89, 0x47, 0x4d, 0x56, 0x41, 0x45, 0x0d, 0x0a, 0x01, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00,
        0x00, 0xb4, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x0f, 0x00,
        0x18, 0x00, 0xa8, 0x01, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0xd0, 0x01, 0x00, 0x00, 0x12,
        0x00, 0x00, 0x00, 0xe2, 0x01, 0x00, 0x00, 0x12, 0x00, 0x28, 0x00, 0xc0, 0x04, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(b.len(), 1972);
    assert_eq!(b[..64], header);
    assert_eq!(
        b[88..112],
        [2, 0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 3, 1, 1, 0]
    );
    assert_eq!(
        b[424..464],
        [
            0x02, 0, 0, 0, 0x01, 0, 0, 0, 0x3e, 0xc3, 0xae, 0x39, 0xae, 0x47, 0x3d, 0x41, 0x00,
            0x00, 0x90, 0x40, 0x0e, 0x4f, 0x7f, 0x3f, 0x01, 0, 0, 0, 0xa4, 0x70, 0x7d, 0x3f, 0xe8,
            0x03, 0, 0, 0, 0, 0, 0
        ]
    );
    assert_eq!(&b[464..482], b"\x05\x00mnist\x04\x00zero\x03\x00one");
    assert_eq!(b[1964..], [0x00, 0x80, 0x3b, 0x45, 0xd7, 0x9d, 0x0b, 0x50]);
    let view = ModelView::parse(&b).unwrap();
    let offsets: Vec<usize> = TensorId::ALL
        .iter()
        .map(|&t| view.tensor(t).words().as_ptr() as usize - b.as_ptr() as usize)
        .chain(
            [view.class_means(), view.precisions()]
                .map(|v| v.words().as_ptr() as usize - b.as_ptr() as usize),
        )
        .collect();
    assert_eq!(
        offsets,
        [
            1216, 1296, 1312, 1456, 1472, 1504, 1520, 1552, 1568, 1600, 1616, 1648, 1664, 1808,
            1824, 1904, 1920, 1936
        ]
    );
}
