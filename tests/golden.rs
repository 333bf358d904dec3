//! The runtime reproduces the committed golden outputs bit for bit: the grey set
//! (`fixtures/golden/`, MNIST) and the colour set (`fixtures/golden-colour/`, 3×32×32 tinted
//! digits, latent 16 with zero-padded class means).
//!
//! `fixtures/golden/expected.json` and `reconstructions.f32le` were written by
//! the `golden_fixtures` example from `model.gmvae` and `inputs.f32le` with the runtime itself; they are a
//! function of those bytes and the runtime's fixed numerics (`runtime/NUMERICS.md`) only, so
//! this test must pass unchanged in debug and release builds and on every target. CI runs it
//! both ways: `cargo test --workspace --release` and `cargo test -p gmvae --test golden`.

use gmvae::{
    f32_from_le, golden_dir, golden_model_path, parse_hex_f32, read_fixture, Approximation,
};
use gmvae_format::crc32;
use gmvae_runtime::{Decision, Error, Model, Workspace};
use serde_json::Value;
use sha2::Digest;

/// Capacity of the workspace the golden inputs run in (the grey edge model needs 12 700,
/// the colour one 17 149).
const WS: usize = 20_480;

/// The colour set: the edge preset on 3×32×32 tinted digits with a latent of 16.
fn colour_dir() -> std::path::PathBuf {
    golden_dir().with_file_name("golden-colour")
}

fn expected_in(dir: &std::path::Path) -> Value {
    let text = read_fixture(&dir.join("expected.json"));
    serde_json::from_slice(&text).expect("expected.json is JSON")
}

fn hex(v: &Value) -> f32 {
    v.as_str()
        .and_then(parse_hex_f32)
        .unwrap_or_else(|| panic!("{v} is not a 0x… f32 bit pattern"))
}

fn uint(v: &Value) -> usize {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| panic!("{v} is not an unsigned integer"))
}

fn flag(v: &Value) -> bool {
    v.as_bool()
        .unwrap_or_else(|| panic!("{v} is not a boolean"))
}

#[test]
fn golden_files_describe_the_committed_model() {
    let model_bytes = read_fixture(&golden_model_path());
    let a = describes_its_model(&golden_dir(), &model_bytes);
    // The edge preset (c1 = 8, c2 = 16, hidden = 64) on MNIST, as fixtures/README.md says.
    assert_eq!(
        (a.in_channels, a.height, a.width, a.conv1, a.conv2, a.hidden),
        (1, 28, 28, 8, 16, 64)
    );
}

#[test]
fn colour_golden_files_describe_the_committed_model() {
    let model_bytes = read_fixture(&colour_dir().join("model.gmvae"));
    let a = describes_its_model(&colour_dir(), &model_bytes);
    // The edge preset on 3×32×32 images, latent 16 > 10 classes (zero-padded means).
    assert_eq!(
        (a.in_channels, a.height, a.width, a.conv1, a.conv2, a.hidden),
        (3, 32, 32, 8, 16, 64)
    );
    assert_eq!((a.latent, a.classes), (16, 10));
}

/// Checks `dir/expected.json` against the model bytes and returns the architecture.
fn describes_its_model(dir: &std::path::Path, bytes: &[u8]) -> gmvae_format::Architecture {
    let e = expected_in(dir);
    assert_eq!(e["format"], "gmvae-golden-1");
    assert_eq!(
        uint(&e["model"]["bytes"]),
        bytes.len(),
        "expected.json was generated from another model.gmvae: regenerate (fixtures/README.md)"
    );
    // The CRC the file stores in its trailer (over every byte before it). The CRC over the
    // whole file would be the CRC-32 residue, the same for every valid file.
    let (body, trailer) = bytes.split_at(bytes.len() - 4);
    assert_eq!(
        crc32(body).to_le_bytes(),
        trailer,
        "the trailer holds the body's CRC"
    );
    assert_eq!(
        e["model"]["crc32"],
        format!("0x{:08x}", crc32(body)),
        "expected.json was generated from another model.gmvae: regenerate (fixtures/README.md)"
    );
    let sha256: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        e["model"]["sha256"], sha256,
        "expected.json was generated from another model.gmvae: regenerate (fixtures/README.md)"
    );
    let model = Model::parse(bytes).expect("the golden model parses");
    let sizes = model.workspace_sizes();
    assert_eq!(uint(&e["model"]["workspace_len"]), sizes.classify);
    assert_eq!(uint(&e["model"]["workspace_bytes"]), sizes.classify_bytes());
    assert_eq!(uint(&e["inputs"]["image_len"]), model.image_len());
    let t = model.thresholds();
    assert_eq!(hex(&e["model"]["tau_enc"]).to_bits(), t.tau_enc.to_bits());
    assert_eq!(hex(&e["model"]["tau_dec"]).to_bits(), t.tau_dec.to_bits());
    let a = model.architecture();
    let arch = &e["model"]["architecture"];
    for (name, value) in [
        ("in_channels", a.in_channels),
        ("height", a.height),
        ("width", a.width),
        ("conv1", a.conv1),
        ("conv2", a.conv2),
        ("hidden", a.hidden),
        ("latent", a.latent),
        ("classes", a.classes),
    ] {
        assert_eq!(uint(&arch[name]), value, "architecture.{name}");
    }
    a
}

#[test]
fn runtime_outputs_equal_the_golden_bits() {
    let cases = reproduces_the_golden_bits(&golden_dir());
    // runtime/nostd-check (exit code 3, checked by CI) and the firmware example in
    // runtime/FIRMWARE.md classify golden input 6 and expect an accepted 3.
    let six = &cases[6];
    assert_eq!(six["name"], "digit-3-a");
    assert_eq!((uint(&six["label"]), flag(&six["accepted"])), (3, true));
    // ... and expect the all-black frame to be refused.
    assert_eq!(cases[21]["name"], "all-black");
    assert!(!flag(&cases[21]["accepted"]));
}

#[test]
fn colour_runtime_outputs_equal_the_golden_bits() {
    let cases = reproduces_the_golden_bits(&colour_dir());
    // Uniform noise and the flat frames are refused by the colour model too.
    for case in &cases[20..23] {
        assert!(!flag(&case["accepted"]), "{}", case["name"]);
    }
}

/// Runs the runtime on `dir`'s inputs and checks every output bit against its
/// `expected.json` and `reconstructions.f32le`; returns the cases.
fn reproduces_the_golden_bits(dir: &std::path::Path) -> Vec<Value> {
    let e = expected_in(dir);
    let bytes = read_fixture(&dir.join("model.gmvae"));
    let model = Model::parse(&bytes).expect("the golden model parses");
    let n = model.image_len();
    let inputs = f32_from_le(&read_fixture(&dir.join("inputs.f32le")))
        .expect("inputs.f32le holds whole f32 values");
    let recons = f32_from_le(&read_fixture(&dir.join("reconstructions.f32le")))
        .expect("reconstructions.f32le holds whole f32 values");
    let cases = e["cases"].as_array().expect("cases is an array");
    assert_eq!(uint(&e["inputs"]["count"]), cases.len());
    assert_eq!(inputs.len(), cases.len() * n, "inputs.f32le size");
    assert_eq!(recons.len(), cases.len() * n, "reconstructions.f32le size");
    assert!(cases.len() >= 24, "the golden set lost inputs");

    let mut ws = Box::new(Workspace::<WS>::new());
    let mut recon = vec![0.0f32; n];
    let (mut accepted, mut rejected) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(uint(&case["index"]), i);
        let name = case["name"].as_str().unwrap_or("?");
        let image = &inputs[i * n..(i + 1) * n];
        let v = model
            .classify(image, &mut ws)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(v.label, uint(&case["label"]), "{name}: label");
        let latent: Vec<f32> = case["latent"]
            .as_array()
            .expect("latent is an array")
            .iter()
            .map(hex)
            .collect();
        Approximation::Exact
            .check_all(&v.latent, &latent)
            .unwrap_or_else(|err| panic!("{name}: latent {err}"));
        Approximation::Exact
            .check_all(&[v.mahalanobis_sq], &[hex(&case["mahalanobis_sq"])])
            .unwrap_or_else(|err| panic!("{name}: mahalanobis_sq {err}"));
        Approximation::Exact
            .check_all(
                &[v.reconstruction_error],
                &[hex(&case["reconstruction_error"])],
            )
            .unwrap_or_else(|err| panic!("{name}: reconstruction_error {err}"));
        let want = if flag(&case["accepted"]) {
            accepted += 1;
            Decision::Accepted
        } else {
            rejected += 1;
            Decision::Rejected {
                latent: flag(&case["rejected_latent"]),
                reconstruction: flag(&case["rejected_reconstruction"]),
            }
        };
        assert_eq!(v.decision, want, "{name}: decision");

        let z = model.encode(image, &mut ws).expect("encode");
        assert_eq!(z, v.latent, "{name}: encode differs from classify's latent");
        model
            .decode_into(&z, &mut ws, &mut recon)
            .expect("decode_into");
        Approximation::Exact
            .check_all(&recon, &recons[i * n..(i + 1) * n])
            .unwrap_or_else(|err| panic!("{name}: reconstruction {err}"));
    }
    // The golden set exercises both outcomes.
    assert!(
        accepted > 0 && rejected > 0,
        "{accepted} accepted, {rejected} rejected"
    );
    cases.clone()
}

#[test]
fn golden_inputs_are_what_the_fixture_command_selects() {
    let split = gmvae_trainer::data::load(&gmvae_trainer::data::DatasetSpec::Bundled)
        .expect("the bundled MNIST-10k loads");
    inputs_are_regenerated(&golden_dir(), &split.test, "bundled MNIST-10k");
}

#[test]
fn colour_golden_inputs_are_the_tinted_digits_the_fixture_command_selects() {
    let split = gmvae_trainer::data::load(&gmvae_trainer::data::DatasetSpec::Bundled)
        .expect("the bundled MNIST-10k loads");
    let tinted = gmvae_trainer::golden::tinted_digits(&split).expect("tinted digits");
    assert_eq!(tinted.test.shape.to_string(), "3x32x32");
    inputs_are_regenerated(&colour_dir(), &tinted.test, "tinted MNIST-10k");
}

/// Checks that `dir/inputs.f32le` holds exactly the golden inputs selected from `test`.
fn inputs_are_regenerated(
    dir: &std::path::Path,
    test: &gmvae_trainer::data::Dataset,
    source: &str,
) {
    let e = expected_in(dir);
    let n = uint(&e["inputs"]["image_len"]);
    let regenerated = gmvae_trainer::golden::golden_inputs(test, n, source).expect("golden inputs");
    let committed =
        f32_from_le(&read_fixture(&dir.join("inputs.f32le"))).expect("whole f32 values");
    let cases = e["cases"].as_array().expect("cases");
    assert_eq!(regenerated.len(), cases.len());
    for ((input, case), chunk) in regenerated.iter().zip(cases).zip(committed.chunks(n)) {
        assert_eq!(case["name"], input.name.as_str());
        assert_eq!(case["source"], input.source.as_str());
        assert_eq!(
            case["true_label"].as_u64(),
            input.true_label.map(|l| l as u64)
        );
        Approximation::Exact
            .check_all(chunk, &input.pixels)
            .unwrap_or_else(|err| panic!("{}: {err}", input.name));
    }
}

#[test]
fn a_too_small_workspace_is_a_typed_error() {
    let bytes = read_fixture(&golden_model_path());
    let model = Model::parse(&bytes).expect("the golden model parses");
    let image = vec![0.0f32; model.image_len()];
    let mut small = Box::new(Workspace::<1024>::new());
    assert_eq!(
        model.classify(&image, &mut small).unwrap_err(),
        Error::WorkspaceTooSmall {
            needed: model.workspace_sizes().classify,
            available: 1024
        }
    );
}
