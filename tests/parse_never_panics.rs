//! Parsing never panics, on arbitrary bytes or on mutations of the real trained golden model
//! (flip, set, insert, delete, truncate; with the CRC left stale or recomputed so that the
//! later checks are reached), and a model that parses classifies and reclassifies a fixed
//! input without panicking. No call may return `Error::Internal` (a broken invariant of the
//! runtime: what would otherwise have been a panic). `formats/tests/never_panics.rs` does
//! the same on a tiny synthetic model.

use std::sync::OnceLock;

use gmvae::{golden_model_path, read_fixture};
use gmvae_format::corrupt::refresh_crc;
use gmvae_format::ModelView;
use gmvae_runtime::{Error, Model, ReclassifySettings, Workspace};
use proptest::prelude::*;

/// Large enough for any model whose workspace the mutations can produce and still classify
/// in a test; bigger models must give `WorkspaceTooSmall`, not a panic.
const WS: usize = 16_384;

fn golden() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| read_fixture(&golden_model_path()))
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Set(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Where a mutation lands: anywhere, or within the first 4 KiB (header, layer records,
/// calibration, strings and tensor table, where most checks live).
fn position(i: usize, len: usize, in_head: bool) -> usize {
    if in_head {
        i % len.clamp(1, 4096)
    } else {
        i % len.max(1)
    }
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, in_head: bool) {
    let len = bytes.len();
    match *m {
        Mutation::Flip(i, x) if len > 0 => bytes[position(i, len, in_head)] ^= x,
        Mutation::Set(i, x) if len > 0 => bytes[position(i, len, in_head)] = x,
        Mutation::Insert(i, x) => bytes.insert(position(i, len + 1, in_head), x),
        Mutation::Delete(i) if len > 0 => {
            bytes.remove(position(i, len, in_head));
        }
        Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
        _ => {}
    }
}

/// The largest reclassification workspace the test allocates (`f32`s); bigger models must
/// give `WorkspaceTooSmall`, not a panic.
const RECLASSIFY_WS: usize = 1 << 20;

/// Parses with both readers (they must agree) and, when the model parses, classifies an
/// all-grey image and a checkerboard and reclassifies the grey one (two Adam steps). Returns
/// whether it parsed.
fn parse_and_classify(bytes: &[u8]) -> bool {
    let view = ModelView::parse(bytes);
    let model = Model::parse(bytes);
    let model = match (view, model) {
        (_, Err(Error::Internal)) => panic!("Model::parse returned Error::Internal (a bug)"),
        (Err(a), Err(Error::Format(b))) => {
            assert_eq!(a, b, "reader and runtime disagree");
            return false;
        }
        (Ok(_), Ok(model)) => model,
        (Ok(_), Err(e)) => {
            // The runtime's own limits may reject a model the format accepts.
            assert!(
                matches!(e, Error::LatentTooWide { .. } | Error::ModelTooLarge),
                "runtime rejects a valid file with {e:?}"
            );
            return true;
        }
        (a, b) => panic!("reader says {a:?}, runtime says {b:?}"),
    };
    let mut ws = Box::new(Workspace::<WS>::new());
    let n = model.image_len().min(1 << 20);
    let grey = vec![0.5f32; n];
    let checker: Vec<f32> = (0..n).map(|i| (i % 2) as f32).collect();
    for image in [&grey, &checker] {
        match model.classify(image, &mut ws) {
            Ok(v) => {
                assert!(v.label < model.architecture().classes);
                assert!(v.mahalanobis_sq.is_finite() && v.reconstruction_error.is_finite());
            }
            Err(
                Error::WorkspaceTooSmall { .. }
                | Error::ImageLength { .. }
                | Error::NonFiniteOutput,
            ) => {}
            Err(e) => panic!("classify failed with {e:?}"),
        }
    }
    let needed = model.workspace_sizes().reclassify;
    let mut ws = vec![0.0f32; needed.min(RECLASSIFY_WS)];
    let settings = ReclassifySettings {
        steps: 2,
        ..ReclassifySettings::DEFAULT
    };
    match model.reclassify(&grey, &mut ws, &settings) {
        Ok(r) => {
            assert!(r.label < model.architecture().classes);
            assert!(r.mahalanobis_sq.is_finite() && r.reconstruction_error.is_finite());
        }
        Err(
            Error::WorkspaceTooSmall { .. } | Error::ImageLength { .. } | Error::NonFiniteOutput,
        ) => {}
        Err(e) => panic!("reclassify failed with {e:?}"),
    }
    true
}

#[test]
fn the_golden_model_parses_and_classifies() {
    assert!(parse_and_classify(golden()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert!(!parse_and_classify(&bytes));
    }

    #[test]
    fn golden_prefix_then_arbitrary_bytes(
        keep in 0usize..4096,
        tail in prop::collection::vec(any::<u8>(), 0..4096),
        refresh in any::<bool>(),
    ) {
        let mut bytes = golden()[..keep].to_vec();
        bytes.extend_from_slice(&tail);
        if refresh {
            refresh_crc(&mut bytes);
        }
        parse_and_classify(&bytes);
    }

    #[test]
    fn mutated_golden_model(
        mutations in prop::collection::vec(mutation(), 1..4),
        in_head in any::<bool>(),
        refresh in any::<bool>(),
    ) {
        let mut bytes = golden().to_vec();
        for m in &mutations {
            apply(&mut bytes, m, in_head);
        }
        if refresh {
            refresh_crc(&mut bytes);
        }
        let parsed = parse_and_classify(&bytes);
        // With a stale CRC, any change is caught: a length change fails the declared length,
        // a single changed byte always changes the CRC32, and a few scattered changes escape
        // it with probability 2^-32.
        if !refresh && bytes != golden() {
            prop_assert!(!parsed, "a changed file with a stale CRC parsed: {mutations:?}");
        }
    }
}
