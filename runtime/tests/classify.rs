//! End-to-end tests of `Model::classify`, `encode` and `decode_into` on small random models.

mod common;

use common::*;
use gmvae_format::{corrupt, CovarianceKind, ModelFile, TensorId};
use gmvae_runtime::{Decision, Error, Model, Workspace};

const WS: usize = 4096;

fn ws<const N: usize>() -> Box<Workspace<N>> {
    Box::new(Workspace::new())
}

/// The documented 8-lane sum of squared differences.
fn lanes_sq(a: &[f32], b: &[f32]) -> f32 {
    let mut l = [0.0f32; 8];
    for (i, (&p, &q)) in a.iter().zip(b).enumerate() {
        let d = p - q;
        l[i % 8] += d * d;
    }
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

fn close(got: f32, want: f64, tol: f64) -> bool {
    (got as f64 - want).abs() <= tol * want.abs().max(1.0)
}

#[test]
fn tiny_model_matches_the_f64_reference() {
    for seed in 0..8 {
        let file = random_file(TINY, seed, 1e30, 1e30);
        let bytes = file.to_bytes().unwrap();
        let model = Model::parse(&bytes).unwrap();
        assert!(model.workspace_sizes().classify <= WS);
        let image = random_image(model.image_len(), 100 + seed);
        let mut w = ws::<WS>();
        let v = model.classify(&image, &mut w).unwrap();

        let (z, recon) = reference(&file, &image);
        assert_eq!(v.latent.len(), TINY.latent);
        for (g, r) in v.latent.iter().zip(&z) {
            assert!(close(*g, *r, 1e-5), "seed {seed}: z {g} vs {r}");
        }
        let err: f64 = image
            .iter()
            .zip(&recon)
            .map(|(&x, &r)| (x as f64 - r).powi(2))
            .sum();
        assert!(
            close(v.reconstruction_error, err, 1e-5),
            "seed {seed}: {} vs {err}",
            v.reconstruction_error
        );

        // Label: nearest one-hot mean; Mahalanobis: isotropic (1/s2)·I.
        let dist = |c: usize| -> f64 {
            z.iter()
                .enumerate()
                .map(|(j, &v)| (v - if j == c { 1.0 } else { 0.0 }).powi(2))
                .sum()
        };
        let best = (0..TINY.classes)
            .min_by(|&a, &b| dist(a).total_cmp(&dist(b)))
            .unwrap();
        assert_eq!(v.label, best, "seed {seed}");
        let maha = dist(best) / 0.25;
        assert!(
            close(v.mahalanobis_sq, maha, 1e-5),
            "seed {seed}: {} vs {maha}",
            v.mahalanobis_sq
        );
        assert_eq!(v.decision, Decision::Accepted);
    }
}

#[test]
fn encode_and_decode_agree_bit_for_bit_with_classify() {
    let file = random_file(TINY, 42, 1e30, 1e30);
    let bytes = file.to_bytes().unwrap();
    let model = Model::parse(&bytes).unwrap();
    let image = random_image(model.image_len(), 7);
    let mut w = ws::<WS>();
    let v = model.classify(&image, &mut w).unwrap();
    let z = model.encode(&image, &mut w).unwrap();
    assert_eq!(z, v.latent);
    let mut recon = vec![0.0; model.image_len()];
    model.decode_into(&z, &mut w, &mut recon).unwrap();
    assert!(recon.iter().all(|r| (0.0..=1.0).contains(r)));
    assert_eq!(
        lanes_sq(&image, &recon).to_bits(),
        v.reconstruction_error.to_bits()
    );
    let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
    for (g, r) in recon.iter().zip(decode_reference(&file, &z64)) {
        assert!(close(*g, r, 1e-5));
    }
    // The workspace's previous contents do not matter.
    let mut dirty = ws::<WS>();
    let garbage = random_image(WS, 3);
    let mut junk = vec![0.0; model.image_len()];
    model
        .decode_into(&garbage[..TINY.latent], &mut dirty, &mut junk)
        .unwrap();
    assert_eq!(model.classify(&image, &mut dirty).unwrap(), v);
}

#[test]
fn per_class_precision_is_used_as_stored() {
    let mut file = random_file(TINY, 5, 1e30, 1e30);
    file.calibration.covariance = CovarianceKind::PerClass;
    let d = TINY.latent;
    // Class c: diagonal (c + 1) · (1 + j) plus a small symmetric off-diagonal coupling.
    let mut p = vec![0.0f32; TINY.classes * d * d];
    for c in 0..TINY.classes {
        for i in 0..d {
            for j in 0..d {
                p[(c * d + i) * d + j] = if i == j {
                    (c + 1) as f32 * (1 + j) as f32
                } else {
                    0.125
                };
            }
        }
    }
    file.precisions = p.clone();
    let bytes = file.to_bytes().unwrap();
    let model = Model::parse(&bytes).unwrap();
    let image = random_image(model.image_len(), 9);
    let v = model.classify(&image, &mut ws::<WS>()).unwrap();
    let c = v.label;
    let diff: Vec<f64> = (0..d)
        .map(|j| v.latent[j] as f64 - if j == c { 1.0 } else { 0.0 })
        .collect();
    let want: f64 = (0..d)
        .map(|i| {
            diff[i]
                * (0..d)
                    .map(|j| p[(c * d + i) * d + j] as f64 * diff[j])
                    .sum::<f64>()
        })
        .sum();
    assert!(
        close(v.mahalanobis_sq, want, 1e-5),
        "{} vs {want}",
        v.mahalanobis_sq
    );
}

#[test]
fn decisions_name_the_failed_thresholds() {
    let bytes = random_model(TINY, 11);
    let model = Model::parse(&bytes).unwrap();
    let image = random_image(model.image_len(), 12);
    let base = model.classify(&image, &mut ws::<WS>()).unwrap();
    let (m, r) = (base.mahalanobis_sq, base.reconstruction_error);
    assert!(m > 0.0 && r > 0.0);
    let cases = [
        (m, r, Decision::Accepted),
        (
            m * 0.5,
            r,
            Decision::Rejected {
                latent: true,
                reconstruction: false,
            },
        ),
        (
            m,
            r * 0.5,
            Decision::Rejected {
                latent: false,
                reconstruction: true,
            },
        ),
        (
            m * 0.5,
            r * 0.5,
            Decision::Rejected {
                latent: true,
                reconstruction: true,
            },
        ),
    ];
    for (tau_enc, tau_dec, want) in cases {
        let bytes = random_file(TINY, 11, tau_enc, tau_dec).to_bytes().unwrap();
        let model = Model::parse(&bytes).unwrap();
        assert_eq!(model.thresholds().tau_enc, tau_enc);
        let v = model.classify(&image, &mut ws::<WS>()).unwrap();
        assert_eq!(v.decision, want);
        assert_eq!(v.decision.is_accepted(), want == Decision::Accepted);
        assert_eq!((v.mahalanobis_sq, v.reconstruction_error), (m, r));
    }
}

#[test]
fn every_error_path() {
    let bytes = random_model(TINY, 1);
    let model = Model::parse(&bytes).unwrap();
    let n = model.image_len();
    let good = random_image(n, 2);
    let mut w = ws::<WS>();

    assert_eq!(
        model.classify(&good[1..], &mut w),
        Err(Error::ImageLength {
            expected: n,
            found: n - 1
        })
    );
    let mut longer = good.clone();
    longer.push(0.5);
    assert_eq!(
        model.encode(&longer, &mut w),
        Err(Error::ImageLength {
            expected: n,
            found: n + 1
        })
    );
    for (bad, err) in [
        (f32::NAN, Error::NonFiniteInput { index: 5 }),
        (f32::INFINITY, Error::NonFiniteInput { index: 5 }),
        (f32::NEG_INFINITY, Error::NonFiniteInput { index: 5 }),
        (1.0000001, Error::PixelOutOfRange { index: 5 }),
        (-1e-30, Error::PixelOutOfRange { index: 5 }),
    ] {
        let mut img = good.clone();
        img[5] = bad;
        img[9] = f32::NAN; // a later offence is not the one reported
        assert_eq!(model.classify(&img, &mut w), Err(err));
        assert_eq!(model.encode(&img, &mut w), Err(err));
    }
    let mut edge_values = good.clone();
    edge_values[0] = 0.0;
    edge_values[1] = -0.0;
    edge_values[2] = 1.0;
    assert!(model.classify(&edge_values, &mut w).is_ok());

    let needed = model.workspace_sizes().classify;
    let mut small = ws::<64>();
    assert_eq!(
        model.classify(&good, &mut small),
        Err(Error::WorkspaceTooSmall {
            needed,
            available: 64
        })
    );
    assert_eq!(
        model.encode(&good, &mut small),
        Err(Error::WorkspaceTooSmall {
            needed,
            available: 64
        })
    );
    let mut out = vec![0.0; n];
    let z = vec![0.5; TINY.latent];
    assert_eq!(
        model.decode_into(&z, &mut small, &mut out),
        Err(Error::WorkspaceTooSmall {
            needed,
            available: 64
        })
    );
    assert_eq!(model.workspace_sizes().classify_bytes(), needed * 4);

    assert_eq!(
        model.decode_into(&z[1..], &mut w, &mut out),
        Err(Error::LatentLength {
            expected: TINY.latent,
            found: TINY.latent - 1
        })
    );
    let mut zn = z.clone();
    zn[2] = f32::NAN;
    assert_eq!(
        model.decode_into(&zn, &mut w, &mut out),
        Err(Error::NonFiniteLatent { index: 2 })
    );
    assert_eq!(
        model.decode_into(&z, &mut w, &mut out[1..]),
        Err(Error::OutputLength {
            expected: n,
            found: n - 1
        })
    );

    // Bad model bytes.
    assert!(matches!(Model::parse(&[]), Err(Error::Format(_))));
    assert!(matches!(
        Model::parse(&bytes[..bytes.len() - 1]),
        Err(Error::Format(_))
    ));
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    assert!(matches!(Model::parse(&flipped), Err(Error::Format(_))));
    let mut magic = bytes.clone();
    magic[0] ^= 1;
    assert!(matches!(Model::parse(&magic), Err(Error::Format(_))));

    // Display and source.
    let e = Model::parse(&magic).unwrap_err();
    assert!(e.to_string().starts_with("invalid model file"));
    assert!(std::error::Error::source(&e).is_some());
    assert!(Error::WorkspaceTooSmall {
        needed: 3,
        available: 2
    }
    .to_string()
    .contains("3 f32 needed"));
}

#[test]
fn overflowing_weights_are_a_non_finite_output_error() {
    let mut file = random_file(TINY, 3, 1e30, 1e30);
    for v in file.tensor_mut(TensorId::EncFc2Bias).iter_mut() {
        *v = 3e38;
    }
    for v in file.tensor_mut(TensorId::EncFc2Weight).iter_mut() {
        *v = 3e38;
    }
    let bytes = file.to_bytes().unwrap();
    let model = Model::parse(&bytes).unwrap();
    let image = vec![1.0; model.image_len()];
    assert_eq!(
        model.classify(&image, &mut ws::<WS>()),
        Err(Error::NonFiniteOutput)
    );
    assert_eq!(
        model.encode(&image, &mut ws::<WS>()),
        Err(Error::NonFiniteOutput)
    );
}

#[test]
fn workspace_sizes_of_the_presets() {
    for (arch, len) in [(PAPER, 56_508), (EDGE, 12_700)] {
        let bytes = ModelFile::new(arch, calibration(1.0, 1.0))
            .unwrap()
            .to_bytes()
            .unwrap();
        let model = Model::parse(&bytes).unwrap();
        let sizes = model.workspace_sizes();
        assert_eq!(sizes.classify, len, "{arch:?}");
        assert_eq!(sizes.classify_bytes(), 4 * len);
    }
}

#[test]
fn a_workspace_can_live_in_a_static() {
    static WS_STATIC: std::sync::Mutex<Workspace<WS>> = std::sync::Mutex::new(Workspace::new());
    let bytes = random_model(TINY, 8);
    let model = Model::parse(&bytes).unwrap();
    let image = random_image(model.image_len(), 8);
    let mut guard = WS_STATIC.lock().unwrap();
    let a = model.classify(&image, &mut guard).unwrap();
    assert_eq!(a, model.classify(&image, &mut ws::<WS>()).unwrap());
}

/// A caller's `&mut [f32]` (here a `Vec<f32>`, whole, sub-sliced at an odd offset, or longer
/// than needed) is as good a workspace as a `Workspace<N>`: the same bits from every call.
#[test]
fn a_slice_workspace_gives_the_same_bits_as_a_fixed_one() {
    for (arch, seed) in [(TINY, 51), (EDGE, 52)] {
        let bytes = random_model(arch, seed);
        let model = Model::parse(&bytes).unwrap();
        let needed = model.workspace_sizes().classify;
        let image = random_image(model.image_len(), seed);
        let mut fixed = ws::<60_000>();
        let want = model.classify(&image, &mut fixed).unwrap();
        let mut want_recon = vec![0.0; model.image_len()];
        model
            .decode_into(&want.latent, &mut fixed, &mut want_recon)
            .unwrap();
        let mut exact = vec![f32::NAN; needed];
        let mut longer = random_image(needed + 1000, 3);
        let mut offset = vec![f32::NAN; needed + 3];
        let slices: [&mut [f32]; 3] = [&mut exact, longer.as_mut_slice(), &mut offset[3..]];
        for ws in slices {
            let v = model.classify(&image, ws).unwrap();
            assert_eq!(v, want, "{arch:?}");
            assert_eq!(
                v.reconstruction_error.to_bits(),
                want.reconstruction_error.to_bits()
            );
            assert_eq!(model.encode(&image, ws).unwrap(), want.latent);
            let mut recon = vec![0.0; model.image_len()];
            model.decode_into(&want.latent, ws, &mut recon).unwrap();
            let bits = |r: &[f32]| r.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&recon), bits(&want_recon));
        }
    }
}

/// A too-short slice is `WorkspaceTooSmall` naming what the call needs and the slice's length.
#[test]
fn a_short_slice_workspace_is_a_typed_error_with_its_length() {
    let bytes = random_model(EDGE, 53);
    let model = Model::parse(&bytes).unwrap();
    let needed = model.workspace_sizes().classify;
    assert_eq!(needed, 12_700);
    let image = random_image(model.image_len(), 4);
    let z = vec![0.5; EDGE.latent];
    let mut out = vec![0.0; model.image_len()];
    for available in [0, 1, needed / 2, needed - 1] {
        let mut ws = vec![0.0f32; available];
        let err = Error::WorkspaceTooSmall { needed, available };
        assert_eq!(model.classify(&image, &mut ws), Err(err));
        assert_eq!(model.encode(&image, &mut ws), Err(err));
        assert_eq!(model.decode_into(&z, &mut ws, &mut out), Err(err));
    }
    // The workspace is checked first, before the image.
    assert_eq!(
        model.classify(&image[1..], &mut [0.0; 10]),
        Err(Error::WorkspaceTooSmall {
            needed,
            available: 10
        })
    );
    assert!(model.classify(&image, &mut vec![0.0; needed]).is_ok());
}

#[test]
fn refreshed_crc_corruptions_parse_or_fail_cleanly() {
    // Flip every byte of the header/table region one at a time with a valid checksum.
    let bytes = random_model(TINY, 2);
    let image = random_image(TINY.in_channels * TINY.height * TINY.width, 2);
    for i in 0..bytes.len().min(600) {
        let mut b = bytes.clone();
        b[i] ^= 0xFF;
        corrupt::refresh_crc(&mut b);
        if let Ok(m) = Model::parse(&b) {
            let _ = m.classify(&image, &mut ws::<WS>());
        }
    }
}
