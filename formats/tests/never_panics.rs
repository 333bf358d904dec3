//! `ModelView::parse` never panics, on arbitrary bytes or on mutations of a valid file
//! (with the CRC left stale, or recomputed so that the later checks are reached).

mod common;

use common::tiny_bytes;
use gmvae_format::corrupt::refresh_crc;
use gmvae_format::{ModelFile, ModelView, TensorId};
use proptest::prelude::*;

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

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Flip(i, x) if len > 0 => bytes[i % len] ^= x,
        Mutation::Set(i, x) if len > 0 => bytes[i % len] = x,
        Mutation::Insert(i, x) => bytes.insert(i % (len + 1), x),
        Mutation::Delete(i) if len > 0 => {
            bytes.remove(i % len);
        }
        Mutation::Truncate(i) => bytes.truncate(i % (len + 1)),
        _ => {}
    }
}

/// Uses every accessor of a view that parsed, to show none of them panics.
fn exercise(view: &ModelView<'_>) {
    let arch = view.architecture();
    for t in TensorId::ALL {
        assert_eq!(view.tensor(t).len(), t.shape(&arch).len());
    }
    assert_eq!(view.class_means().len(), arch.classes * arch.latent);
    assert_eq!(view.class_names().count(), arch.classes);
    let _ = (
        view.calibration(),
        view.dataset_name(),
        view.class_name(usize::MAX),
    );
    let _ = ModelFile::from_view(view).to_bytes();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(v) = ModelView::parse(&bytes) {
            exercise(&v);
        }
    }

    #[test]
    fn arbitrary_bytes_after_the_magic(
        tail in prop::collection::vec(any::<u8>(), 0..1024),
        major_one in any::<bool>(),
    ) {
        let mut bytes = gmvae_format::layout::MAGIC.to_vec();
        if major_one {
            bytes.extend_from_slice(&[1, 0]);
        }
        bytes.extend_from_slice(&tail);
        if let Ok(v) = ModelView::parse(&bytes) {
            exercise(&v);
        }
    }

    #[test]
    fn mutations_of_a_valid_file(
        mutations in prop::collection::vec(mutation(), 1..4),
        fix_crc in any::<bool>(),
    ) {
        let mut bytes = tiny_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if fix_crc {
            refresh_crc(&mut bytes);
        }
        if let Ok(v) = ModelView::parse(&bytes) {
            exercise(&v);
        }
    }

    #[test]
    fn header_and_table_mutations_with_valid_crc(
        edits in prop::collection::vec((0usize..1200, any::<u8>()), 1..6),
    ) {
        // Concentrated on the metadata (the tiny file's header, records, calibration,
        // strings and table are all in its first ~1.2 KB), with the CRC fixed.
        let mut bytes = tiny_bytes();
        let len = bytes.len();
        for (i, x) in edits {
            bytes[i % (len - 4)] = x;
        }
        refresh_crc(&mut bytes);
        if let Ok(v) = ModelView::parse(&bytes) {
            exercise(&v);
        }
    }
}
