//! SVHN and COIL-100 end to end through the binary, on small files in each publisher's format
//! that the tests write themselves: `data info` describes them, broken files are one error
//! line, and a tiny colour model with a latent wider than its classes trains, evaluates,
//! samples colour PNGs, classifies a colour PNG, is attacked and reclassifies.

mod cli_support;

use cli_support::{ok, one_error_line};
use gmvae_trainer::data::coil100::write_coil100_png;
use gmvae_trainer::data::svhn::{write_svhn_mat, SvhnImages};
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `gmvae data info --dataset NAME --data-dir DIR EXTRA…`, which must fail with one error
/// line; returns stderr.
fn info_error(name: &str, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["data", "info", "--dataset", name, "--data-dir", s(dir)];
    args.extend_from_slice(extra);
    one_error_line(&args)
}

/// `per_class` images of each digit, 3×32×32 in channel, row, column order: a bright square
/// whose position and colour depend on the class, on a dim ground, with a little per-image
/// variation so that class covariances are not singular.
fn svhn_images(per_class: usize, salt: u32) -> SvhnImages {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for k in 0..per_class {
        for class in 0..10u32 {
            let (top, left) = (4 + (class / 4) * 8, 2 + (class % 4) * 7);
            for channel in 0..3u32 {
                for row in 0..32u32 {
                    for col in 0..32u32 {
                        let inside =
                            (top..top + 8).contains(&row) && (left..left + 8).contains(&col);
                        let noise = (row * 31 + col * 17 + channel * 7 + k as u32 * 13 + salt) % 23;
                        let value = if inside {
                            150 + ((class + channel) % 3) * 40 + noise
                        } else {
                            20 + noise
                        };
                        pixels.push(value as u8);
                    }
                }
            }
            labels.push(class as u8);
        }
    }
    SvhnImages { pixels, labels }
}

#[test]
fn svhn_files_are_described_trained_on_and_used_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("svhn");
    std::fs::create_dir(&data).unwrap();
    write_svhn_mat(&data.join("train_32x32.mat"), &svhn_images(30, 0), true).unwrap();
    write_svhn_mat(&data.join("test_32x32.mat"), &svhn_images(4, 5), false).unwrap();

    let info = ok(&["data", "info", "--dataset", "svhn", "--data-dir", s(&data)]);
    assert!(info.contains("dataset: svhn\n"), "{info}");
    assert!(
        info.contains("train: 300 images\ntest: 40 images\n"),
        "{info}"
    );
    assert!(info.contains("image shape: 3x32x32"), "{info}");
    for class in 0..10 {
        assert!(
            info.contains(&format!("\n{class:<7}{:>8}{:>8}\n", 30, 4)),
            "{info}"
        );
    }

    // A colour model, latent 32 > 10 classes, with the variance rule's s2 (1/9600).
    let run = dir.path().join("run");
    let train = ok(&[
        "train",
        "--dataset",
        "svhn",
        "--data-dir",
        s(&data),
        "--preset",
        "tiny",
        "--latent",
        "32",
        "--epochs",
        "2",
        "--covariance",
        "isotropic",
        "--out",
        s(&run),
    ]);
    assert!(train.contains("model"), "{train}");
    let model = run.join("model.gmvae");
    let inspect = ok(&["inspect", s(&model)]);
    assert!(inspect.contains("svhn"), "{inspect}");
    assert!(inspect.contains("1/9600"), "{inspect}");

    // The model remembers SVHN: --data-dir alone reads the .mat files again.
    let eval = ok(&["eval", s(&model), "--data-dir", s(&data)]);
    assert!(eval.contains("40"), "{eval}");

    let figures = dir.path().join("figures");
    ok(&[
        "sample",
        s(&model),
        "--data-dir",
        s(&data),
        "--per-class",
        "2",
        "--out",
        s(&figures),
    ]);
    let pngs: Vec<_> = std::fs::read_dir(&figures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    assert!(!pngs.is_empty());
    for png in &pngs {
        let decoder = png::Decoder::new(std::fs::File::open(png).unwrap());
        let reader = decoder.read_info().unwrap();
        assert_eq!(
            reader.info().color_type,
            png::ColorType::Rgb,
            "{}",
            png.display()
        );
    }

    // A colour PNG (interleaved RGB) classified by the runtime.
    let image = svhn_images(1, 3);
    let mut rgb = vec![0u8; 32 * 32 * 3];
    for c in 0..3 {
        for p in 0..32 * 32 {
            rgb[p * 3 + c] = image.pixels[c * 1024 + p];
        }
    }
    let png = dir.path().join("digit.png");
    write_coil100_png(&png, 32, &rgb).unwrap();
    let classified = ok(&["classify", s(&model), s(&png), "--json"]);
    // One JSON object per input line.
    let verdict: serde_json::Value = serde_json::from_str(classified.trim()).unwrap();
    let label = verdict["label"].as_u64().expect("a label");
    assert!(label < 10, "{classified}");
    assert_eq!(verdict["latent"].as_array().map(Vec::len), Some(32));

    let attacked = ok(&[
        "attack",
        "fgsm",
        s(&model),
        "--data-dir",
        s(&data),
        "--samples",
        "20",
        "--eps",
        "0.1",
        "--out",
        s(&run),
    ]);
    assert!(attacked.contains("0.1"), "{attacked}");
    let reclassified = ok(&[
        "reclassify",
        s(&model),
        "--data-dir",
        s(&data),
        "--samples",
        "4",
        "--steps",
        "3",
        "--device",
        "cpu",
        "--out",
        s(&run),
    ]);
    assert!(
        reclassified.contains("3 steps × 10 starts"),
        "{reclassified}"
    );

    // Broken files: one error line naming the file.
    let bytes = std::fs::read(data.join("test_32x32.mat")).unwrap();
    std::fs::write(data.join("test_32x32.mat"), &bytes[..bytes.len() / 2]).unwrap();
    let err = info_error("svhn", &data, &[]);
    assert!(err.contains("test_32x32.mat"), "{err}");
    std::fs::write(
        data.join("test_32x32.mat"),
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .",
    )
    .unwrap();
    let err = info_error("svhn", &data, &[]);
    assert!(
        err.contains("test_32x32.mat") && err.contains("7.3"),
        "{err}"
    );
    std::fs::remove_file(data.join("test_32x32.mat")).unwrap();
    let err = info_error("svhn", &data, &[]);
    assert!(err.contains("test_32x32.mat"), "{err}");
    write_svhn_mat(&data.join("test_32x32.mat"), &svhn_images(4, 5), false).unwrap();
    let err = info_error("svhn", &data, &["--svhn-extra"]);
    assert!(err.contains("extra_32x32.mat"), "{err}");
    // A dataset's own options are refused for another dataset.
    let err = one_error_line(&["data", "info", "--image-size", "32"]);
    assert!(err.contains("--image-size"), "{err}");
}

/// Writes `objects` × `views` COIL-100 files of `side` pixels: each object a colour, each
/// view a shifted stripe.
fn write_coil(dir: &Path, objects: usize, views: usize, side: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for object in 1..=objects {
        for view in 0..views {
            let mut rgb = Vec::with_capacity(side * side * 3);
            for row in 0..side {
                for col in 0..side {
                    let stripe = (col + view) % side < side / 2;
                    for c in 0..3 {
                        let base = ((object * 70 + c * 50) % 200) as u8;
                        rgb.push(if stripe { base + 40 } else { base / 2 } + (row % 3) as u8);
                    }
                }
            }
            let name = format!("obj{object}__{}.png", view * 5);
            write_coil100_png(&dir.join(name), side, &rgb).unwrap();
        }
    }
    std::fs::write(dir.join("convertGroupppm2png.pl"), "# not an image\n").unwrap();
}

#[test]
fn a_coil100_folder_is_described_downscaled_split_and_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("coil-100");
    write_coil(&data, 3, 12, 16);

    let info = ok(&[
        "data",
        "info",
        "--dataset",
        "coil100",
        "--data-dir",
        s(&data),
        "--image-size",
        "8",
    ]);
    assert!(info.contains("dataset: coil100-8\n"), "{info}");
    // 12 views × 0.25 = 3 test views per object.
    assert!(
        info.contains("train: 27 images\ntest: 9 images\n"),
        "{info}"
    );
    assert!(info.contains("image shape: 3x8x8"), "{info}");
    assert!(
        info.contains("found: 3 objects x 12 views of 16x16 pixels, downscaled to 8x8"),
        "{info}"
    );
    assert!(info.contains("obj2"), "{info}");

    let run = dir.path().join("run");
    ok(&[
        "train",
        "--dataset",
        "coil100",
        "--data-dir",
        s(&data),
        "--image-size",
        "8",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--out",
        s(&run),
    ]);
    let model = run.join("model.gmvae");
    // The recorded split name brings back the same downscaling and split.
    let eval = ok(&["eval", s(&model), "--data-dir", s(&data)]);
    assert!(eval.contains('9'), "{eval}");

    // A missing view, then a malformed COIL-like name: one error line each.
    std::fs::remove_file(data.join("obj2__55.png")).unwrap();
    let err = info_error("coil100", &data, &[]);
    assert!(err.contains("obj2__55.png"), "{err}");
    write_coil(&data, 3, 12, 16);
    std::fs::write(data.join("obj3__7.png"), b"").unwrap();
    let err = info_error("coil100", &data, &[]);
    assert!(err.contains("obj3__7.png"), "{err}");
    std::fs::remove_file(data.join("obj3__7.png")).unwrap();
    let err = info_error("coil100", &data, &["--image-size", "12"]);
    assert!(err.contains("12"), "{err}");
}
