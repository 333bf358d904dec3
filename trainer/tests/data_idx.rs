//! IDX reading and MNIST-layout directories: round trips and every kind of bad file.

use gmvae_trainer::data::idx::{encode_labels, read_images, read_labels, IdxImages};
use gmvae_trainer::data::{
    load, write_gzip_atomic, DataError, DatasetSpec, Split, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,
    TRAIN_LABELS,
};
use std::fs;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// `n` deterministic `rows` x `cols` images.
fn images(n: usize, rows: usize, cols: usize) -> IdxImages {
    let pixels = (0..n * rows * cols).map(|i| (i * 37 % 256) as u8).collect();
    IdxImages::new(n, rows, cols, pixels).unwrap()
}

/// Labels cycling through three classes.
fn labels(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 3) as u8).collect()
}

/// Writes `bytes` to `dir/name`, gzip-compressed or raw.
fn put(dir: &Path, name: &str, bytes: &[u8], gzip: bool) -> PathBuf {
    if gzip {
        let path = dir.join(format!("{name}.gz"));
        write_gzip_atomic(&path, bytes).unwrap();
        path
    } else {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        path
    }
}

/// A complete 6-train / 4-test directory of 4x5 images.
fn good_dir(gzip: bool) -> TempDir {
    let dir = TempDir::new().unwrap();
    put(
        dir.path(),
        TRAIN_IMAGES,
        &images(6, 4, 5).to_idx_bytes(),
        gzip,
    );
    put(
        dir.path(),
        TRAIN_LABELS,
        &encode_labels(&labels(6)).unwrap(),
        gzip,
    );
    put(
        dir.path(),
        TEST_IMAGES,
        &images(4, 4, 5).to_idx_bytes(),
        gzip,
    );
    put(
        dir.path(),
        TEST_LABELS,
        &encode_labels(&labels(4)).unwrap(),
        gzip,
    );
    dir
}

fn load_dir(dir: &Path) -> Result<Split, DataError> {
    load(&DatasetSpec::Dir(dir.to_path_buf()))
}

/// An IDX header for unsigned bytes with the given dimensions.
fn header(dims: &[u32]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

#[test]
fn round_trip_gzip_and_raw() {
    for gzip in [true, false] {
        let dir = good_dir(gzip);
        let split = load_dir(dir.path()).unwrap();
        assert_eq!((split.train.len(), split.test.len()), (6, 4));
        assert_eq!(split.train.shape.pixels(), 20);
        assert_eq!((split.train.shape.height, split.train.shape.width), (4, 5));
        assert_eq!(split.train.class_names, ["0", "1", "2"]);
        assert_eq!(split.train.class_counts(), [2, 2, 2]);
        assert_eq!(split.test.class_counts(), [2, 1, 1]);
        assert_eq!(split.test.labels.to_vec(), labels(4));
        let expected = images(6, 4, 5);
        for (value, &byte) in split.train.images.iter().zip(expected.pixels()) {
            assert_eq!(*value, f32::from(byte) / 255.0);
        }
        let sub = split.train.subset(&[5, 0]);
        assert_eq!(sub.image(1), split.train.image(0));
        assert_eq!(sub.labels.to_vec(), [2, 0]);
    }
}

#[test]
fn reader_round_trips_single_files() {
    let dir = TempDir::new().unwrap();
    let original = images(3, 2, 7);
    let path = put(dir.path(), "x", &original.to_idx_bytes(), true);
    assert_eq!(read_images(&path).unwrap(), original);
    let path = put(
        dir.path(),
        "y",
        &encode_labels(&[9, 0, 255]).unwrap(),
        false,
    );
    assert_eq!(read_labels(&path).unwrap(), [9, 0, 255]);
}

#[test]
fn gzip_is_detected_by_content_and_dotted_names_are_accepted() {
    let dir = good_dir(false);
    // Compressed bytes without a .gz name, and the dotted spelling of the name.
    fs::remove_file(dir.path().join(TRAIN_IMAGES)).unwrap();
    write_gzip_atomic(
        &dir.path().join("train-images.idx3-ubyte"),
        &images(6, 4, 5).to_idx_bytes(),
    )
    .unwrap();
    // Raw bytes under a .gz name.
    fs::rename(
        dir.path().join(TEST_LABELS),
        dir.path().join(format!("{TEST_LABELS}.gz")),
    )
    .unwrap();
    let split = load_dir(dir.path()).unwrap();
    assert_eq!((split.train.len(), split.test.len()), (6, 4));
}

#[test]
fn wrong_magic() {
    let dir = good_dir(false);
    let path = put(
        dir.path(),
        TRAIN_IMAGES,
        b"\x89PNG\r\n\x1a\n and more",
        false,
    );
    match load_dir(dir.path()) {
        Err(DataError::BadMagic {
            path: p,
            found,
            expected,
        }) => {
            assert_eq!(p, path);
            assert_eq!((found, expected), (0x8950_4e47, 0x0000_0803));
        }
        other => panic!("expected BadMagic, got {other:?}"),
    }
}

#[test]
fn wrong_number_of_dimensions() {
    let dir = good_dir(false);
    // A label file where the images belong.
    put(
        dir.path(),
        TRAIN_IMAGES,
        &encode_labels(&labels(6)).unwrap(),
        false,
    );
    assert!(matches!(
        load_dir(dir.path()),
        Err(DataError::WrongDimensions {
            found: 1,
            expected: 3,
            ..
        })
    ));
}

#[test]
fn zero_dimension() {
    let dir = good_dir(false);
    put(dir.path(), TRAIN_IMAGES, &header(&[6, 0, 5]), false);
    match load_dir(dir.path()) {
        Err(DataError::ZeroDimension { dims, .. }) => assert_eq!(dims, "6x0x5"),
        other => panic!("expected ZeroDimension, got {other:?}"),
    }
}

#[test]
fn huge_header_does_not_allocate() {
    let dir = TempDir::new().unwrap();
    // Four billion 28x28 images promised, 10 bytes delivered: reported, not allocated.
    let mut bytes = header(&[u32::MAX, 28, 28]);
    bytes.extend_from_slice(&[0; 10]);
    let path = put(dir.path(), "huge", &bytes, true);
    match read_images(&path) {
        Err(DataError::Truncated {
            expected, actual, ..
        }) => {
            assert_eq!(expected, 16 + u64::from(u32::MAX) * 784);
            assert_eq!(actual, 26);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // A shape whose byte count overflows 64 bits.
    let path = put(dir.path(), "overflow", &header(&[u32::MAX; 3]), false);
    assert!(matches!(
        read_images(&path),
        Err(DataError::TooLarge { .. })
    ));
}

#[test]
fn truncated_body_and_header() {
    let dir = TempDir::new().unwrap();
    let mut bytes = images(3, 2, 2).to_idx_bytes();
    bytes.pop();
    let path = put(dir.path(), "body", &bytes, true);
    assert!(matches!(
        read_images(&path),
        Err(DataError::Truncated {
            expected: 28,
            actual: 27,
            ..
        })
    ));
    let path = put(dir.path(), "header", &bytes[..10], false);
    assert!(matches!(
        read_images(&path),
        Err(DataError::Truncated {
            expected: 16,
            actual: 10,
            ..
        })
    ));
    let path = put(dir.path(), "empty", &[], false);
    assert!(matches!(
        read_labels(&path),
        Err(DataError::Truncated {
            expected: 4,
            actual: 0,
            ..
        })
    ));
}

#[test]
fn trailing_bytes() {
    let dir = TempDir::new().unwrap();
    let mut bytes = encode_labels(&[1, 2, 3]).unwrap();
    bytes.extend_from_slice(b"xyz");
    let path = put(dir.path(), "labels", &bytes, true);
    assert!(matches!(
        read_labels(&path),
        Err(DataError::TrailingBytes {
            expected: 11,
            extra: 3,
            ..
        })
    ));
}

#[test]
fn gzip_garbage_and_cut_gzip() {
    let dir = TempDir::new().unwrap();
    let path = put(
        dir.path(),
        "garbage.gz",
        b"\x1f\x8b this is not deflate data at all",
        false,
    );
    assert!(matches!(read_images(&path), Err(DataError::Gzip { .. })));

    let good = put(dir.path(), "good", &images(50, 28, 28).to_idx_bytes(), true);
    let compressed = fs::read(&good).unwrap();
    let cut = put(
        dir.path(),
        "cut.gz",
        &compressed[..compressed.len() / 2],
        false,
    );
    assert!(matches!(read_images(&cut), Err(DataError::Gzip { .. })));
}

#[test]
fn count_mismatch() {
    let dir = good_dir(true);
    let path = put(
        dir.path(),
        TEST_LABELS,
        &encode_labels(&labels(5)).unwrap(),
        true,
    );
    match load_dir(dir.path()) {
        Err(DataError::CountMismatch {
            image_count,
            label_count,
            labels,
            ..
        }) => {
            assert_eq!((image_count, label_count), (4, 5));
            assert_eq!(labels, path);
        }
        other => panic!("expected CountMismatch, got {other:?}"),
    }
}

#[test]
fn shape_mismatch() {
    let dir = good_dir(true);
    put(
        dir.path(),
        TEST_IMAGES,
        &images(4, 5, 4).to_idx_bytes(),
        true,
    );
    assert!(matches!(
        load_dir(dir.path()),
        Err(DataError::ShapeMismatch {
            train_rows: 4,
            test_rows: 5,
            ..
        })
    ));
}

#[test]
fn missing_directory_and_missing_file() {
    let dir = TempDir::new().unwrap();
    let absent = dir.path().join("nope");
    assert!(matches!(
        load_dir(&absent),
        Err(DataError::MissingDirectory { path, .. }) if path == absent
    ));

    let dir = good_dir(true);
    fs::remove_file(dir.path().join(format!("{TEST_IMAGES}.gz"))).unwrap();
    let err = load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "no test images file in {} (looked for t10k-images-idx3-ubyte, \
             t10k-images-idx3-ubyte.gz, t10k-images.idx3-ubyte, t10k-images.idx3-ubyte.gz)",
            dir.path().display()
        )
    );
}

#[test]
fn messages_are_one_line_and_name_the_file() {
    let dir = good_dir(false);
    let path = put(dir.path(), TRAIN_LABELS, b"\x1f\x8bjunk", false);
    let err = load_dir(dir.path()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::Gzip { .. }));
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}
