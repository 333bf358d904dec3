//! Every deliberately broken file gives its specific error; unknown majors are rejected.

mod common;

use common::{model, tiny, tiny_bytes, TINY};
use gmvae_format::corrupt::{refresh_crc, Corruption};
use gmvae_format::{layout, CovarianceKind, FormatError, ModelView, WriteError};
use proptest::prelude::*;

#[test]
fn each_corruption_gives_its_error() {
    for covariance in [CovarianceKind::Isotropic, CovarianceKind::PerClass] {
        let file = model(TINY, covariance, 11);
        for c in Corruption::ALL {
            let bytes = c.apply(&file).unwrap();
            let err = ModelView::parse(&bytes).expect_err(c.name());
            assert!(c.matches(&err), "{}: got {err:?}", c.name());
            // Every error prints something.
            assert!(!err.to_string().is_empty());
        }
    }
}

#[test]
fn corruptions_are_distinct_and_named() {
    let mut names: Vec<_> = Corruption::ALL.iter().map(|c| c.name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), Corruption::ALL.len());
}

#[test]
fn bad_utf8_needs_a_name() {
    let mut f = tiny();
    f.dataset_name.clear();
    for n in &mut f.class_names {
        n.clear();
    }
    assert_eq!(
        Corruption::BadUtf8.apply(&f),
        Err(WriteError::CorruptionNotApplicable)
    );
    f.class_names[1] = "b".into();
    let bytes = Corruption::BadUtf8.apply(&f).unwrap();
    assert_eq!(
        ModelView::parse(&bytes).unwrap_err(),
        FormatError::BadUtf8 { index: 2 }
    );
}

#[test]
fn short_inputs_are_truncated_or_bad_magic() {
    let bytes = tiny_bytes();
    assert_eq!(
        ModelView::parse(&[]).unwrap_err(),
        FormatError::Truncated { needed: 8, len: 0 }
    );
    assert_eq!(
        ModelView::parse(&bytes[..9]).unwrap_err(),
        FormatError::Truncated { needed: 10, len: 9 }
    );
    assert_eq!(
        ModelView::parse(&bytes[..40]).unwrap_err(),
        FormatError::Truncated {
            needed: 64,
            len: 40
        }
    );
    assert_eq!(
        ModelView::parse(&bytes[..bytes.len() - 1]).unwrap_err(),
        FormatError::Truncated {
            needed: bytes.len(),
            len: bytes.len() - 1
        }
    );
    assert_eq!(
        ModelView::parse(b"GMVAE\0\0\0\x01\0").unwrap_err(),
        FormatError::BadMagic
    );
}

#[test]
fn checksum_covers_every_byte_before_the_trailer() {
    let bytes = tiny_bytes();
    // Header fields read before the CRC (magic, major, file length) have their own errors;
    // any other byte flipped is a checksum mismatch.
    for i in (10..16).chain(24..bytes.len()) {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(
            matches!(
                ModelView::parse(&b),
                Err(FormatError::ChecksumMismatch { .. })
            ),
            "byte {i}"
        );
    }
}

#[test]
fn file_too_large_is_rejected_before_reading_on() {
    let mut b = tiny_bytes();
    b[16..24].copy_from_slice(&(2u64 << 30).to_le_bytes());
    assert_eq!(
        ModelView::parse(&b).unwrap_err(),
        FormatError::FileTooLarge { len: 2 << 30 }
    );
}

#[test]
fn nan_tau_dec_and_bad_s2_with_valid_crc() {
    let bytes = tiny_bytes();
    let calib = u32::from_le_bytes(bytes[32..36].try_into().unwrap()) as usize;
    let mut b = bytes.clone();
    b[calib + layout::calibration::TAU_DEC..][..4].copy_from_slice(&f32::NAN.to_le_bytes());
    refresh_crc(&mut b);
    assert_eq!(
        ModelView::parse(&b).unwrap_err(),
        FormatError::BadThreshold {
            which: gmvae_format::Threshold::Dec
        }
    );
    let mut b = bytes.clone();
    b[calib + layout::calibration::S2..][..4].copy_from_slice(&(-1.0f32).to_le_bytes());
    refresh_crc(&mut b);
    assert!(matches!(
        ModelView::parse(&b).unwrap_err(),
        FormatError::BadCalibration { .. }
    ));
}

proptest! {
    #[test]
    fn unknown_major_versions_are_rejected(major in any::<u16>(), fix_crc in any::<bool>()) {
        prop_assume!(major != layout::MAJOR);
        let mut b = tiny_bytes();
        b[8..10].copy_from_slice(&major.to_le_bytes());
        if fix_crc {
            refresh_crc(&mut b);
        }
        prop_assert_eq!(
            ModelView::parse(&b).unwrap_err(),
            FormatError::UnsupportedMajorVersion { found: major }
        );
    }

    #[test]
    fn any_minor_version_is_accepted(minor in any::<u16>()) {
        // A 1.0-shaped file is a valid file of any minor version.
        let mut b = tiny_bytes();
        b[10..12].copy_from_slice(&minor.to_le_bytes());
        refresh_crc(&mut b);
        let view = ModelView::parse(&b).unwrap();
        prop_assert_eq!(view.version(), (1, minor));
    }
}
