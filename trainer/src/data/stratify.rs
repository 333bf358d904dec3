//! Seeded, version-stable shuffling and the stratified train/test split rule.
//!
//! The random stream is `ChaCha8Rng::seed_from_u64(seed)` (rand_chacha 0.3), whose output is fixed
//! by its specification. Shuffling is a Fisher-Yates pass written out here, drawing each index by
//! rejection sampling on `next_u64`, so results do not depend on `rand`'s internals either.

use super::DataError;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The seeded random stream used for all dataset shuffling.
pub fn seeded_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A uniform integer in `0..bound` (`bound >= 1`): draws `r = next_u64()` until
/// `r < u64::MAX - u64::MAX % bound`, then returns `r % bound`.
fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    let limit = u64::MAX - u64::MAX % bound;
    loop {
        let r = rng.next_u64();
        if r < limit {
            return r % bound;
        }
    }
}

/// Shuffles in place: for `i` from `len - 1` down to 1, swap item `i` with item `below(i + 1)`.
pub fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        // `below(i + 1) <= i < items.len()`, which always fits in usize.
        let j = usize::try_from(below(rng, i as u64 + 1)).unwrap_or(i);
        items.swap(i, j);
    }
}

/// How many of `test` examples each class contributes: class `c` gets
/// `floor(test * sizes[c] / total)`, and the examples still missing go one each to the classes
/// with the largest remainders `test * sizes[c] mod total` (ties to the lower class), so the shares
/// sum to exactly `test`.
///
/// Fails unless `0 < test < total`.
pub fn test_shares(sizes: &[usize], test: usize) -> Result<Vec<usize>, DataError> {
    let total: usize = sizes.iter().sum();
    if test == 0 || test >= total {
        return Err(DataError::SplitTooLarge { test, total });
    }
    let (test_w, total_w) = (test as u128, total as u128);
    let products: Vec<u128> = sizes.iter().map(|&n| test_w * n as u128).collect();
    // Each share is at most sizes[c], so it fits in usize.
    let mut shares: Vec<usize> = products
        .iter()
        .map(|p| usize::try_from(p / total_w).unwrap_or(usize::MAX))
        .collect();
    let missing = test - shares.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(products.get(c).map(|p| p % total_w)), c));
    for &c in order.iter().take(missing) {
        if let Some(share) = shares.get_mut(c) {
            *share += 1;
        }
    }
    Ok(shares)
}

/// One example of a class-grouped collection: `(class, index within the class)`.
pub type Example = (usize, usize);

/// Splits class-grouped examples (`sizes[c]` examples of class `c`) into train and test parts.
///
/// With one `seeded_rng(seed)`: for each class in order, shuffle `0..sizes[c]` and send the first
/// [`test_shares`]`[c]` to test and the rest to train (both listed class by class); then shuffle
/// the train list, then the test list, so classes are interleaved. Returns `(train, test)`.
pub fn stratified_split(
    sizes: &[usize],
    test: usize,
    seed: u64,
) -> Result<(Vec<Example>, Vec<Example>), DataError> {
    let shares = test_shares(sizes, test)?;
    let mut rng = seeded_rng(seed);
    let mut train_part = Vec::new();
    let mut test_part = Vec::new();
    for (class, (&size, &share)) in sizes.iter().zip(&shares).enumerate() {
        let mut order: Vec<usize> = (0..size).collect();
        shuffle(&mut order, &mut rng);
        let (to_test, to_train) = order.split_at(share.min(size));
        test_part.extend(to_test.iter().map(|&i| (class, i)));
        train_part.extend(to_train.iter().map(|&i| (class, i)));
    }
    shuffle(&mut train_part, &mut rng);
    shuffle(&mut test_part, &mut rng);
    Ok((train_part, test_part))
}

/// The indices of `labels` grouped by class: entry `c` lists, in increasing order, every `i`
/// with `labels[i] == c` (classes `0..=max label`; none without labels).
pub fn indices_by_class(labels: &[u8]) -> Vec<Vec<usize>> {
    let classes = labels
        .iter()
        .map(|&l| usize::from(l) + 1)
        .max()
        .unwrap_or(0);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (index, &label) in labels.iter().enumerate() {
        if let Some(members) = by_class.get_mut(usize::from(label)) {
            members.push(index);
        }
    }
    by_class
}

/// Splits a labelled collection into a part to keep and a stratified, seeded part to hold
/// out: `labels[i]` is example `i`'s class. Examples are grouped by class in index order and
/// [`stratified_split`]`(sizes, held, seed)` picks the held-out ones; both returned index lists
/// are in increasing order. Returns `(kept, held)`.
///
/// Fails unless `0 < held < labels.len()`.
pub fn hold_out(
    labels: &[u8],
    held: usize,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    let by_class = indices_by_class(labels);
    let sizes: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let (kept, out) = stratified_split(&sizes, held, seed)?;
    let to_indices = |part: Vec<Example>| {
        let mut indices: Vec<usize> = part
            .into_iter()
            .filter_map(|(class, i)| by_class.get(class).and_then(|m| m.get(i)).copied())
            .collect();
        indices.sort_unstable();
        indices
    };
    Ok((to_indices(kept), to_indices(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_sum_exactly_and_follow_largest_remainder() {
        let sizes = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        let shares = test_shares(&sizes, 1000).unwrap();
        assert_eq!(shares.iter().sum::<usize>(), 1000);
        for (&n, &s) in sizes.iter().zip(&shares) {
            let exact = n as f64 * 1000.0 / 10_000.0;
            assert!((s as f64 - exact).abs() < 1.0, "{s} vs {exact}");
        }
        // Three equal classes, one leftover: it goes to the lowest class.
        assert_eq!(test_shares(&[2, 2, 2], 2).unwrap(), vec![1, 1, 0]);
    }

    #[test]
    fn shares_reject_impossible_splits() {
        assert!(matches!(
            test_shares(&[3, 2], 5),
            Err(DataError::SplitTooLarge { test: 5, total: 5 })
        ));
        assert!(matches!(
            test_shares(&[3, 2], 0),
            Err(DataError::SplitTooLarge { .. })
        ));
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let sizes = [5, 7, 3];
        let (train, test) = stratified_split(&sizes, 5, 7).unwrap();
        assert_eq!((train.len(), test.len()), (10, 5));
        let mut all: Vec<Example> = train.iter().chain(&test).copied().collect();
        all.sort();
        let expected: Vec<Example> = sizes
            .iter()
            .enumerate()
            .flat_map(|(c, &n)| (0..n).map(move |i| (c, i)))
            .collect();
        assert_eq!(all, expected);
        let split = (train, test);
        assert_eq!(stratified_split(&sizes, 5, 7).unwrap(), split);
        assert_ne!(stratified_split(&sizes, 5, 8).unwrap(), split);
    }

    #[test]
    fn shuffle_is_a_permutation_and_stable() {
        let mut items: Vec<u32> = (0..100).collect();
        shuffle(&mut items, &mut seeded_rng(2019));
        let mut sorted = items.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        let mut again: Vec<u32> = (0..100).collect();
        shuffle(&mut again, &mut seeded_rng(2019));
        assert_eq!(items, again);
        assert_ne!(items, sorted);
    }
    #[test]
    fn hold_out_is_a_stratified_seeded_partition_in_index_order() {
        let labels: Vec<u8> = (0..40u8).map(|i| if i < 30 { i % 3 } else { 3 }).collect();
        let (kept, held) = hold_out(&labels, 8, 11).unwrap();
        assert_eq!((kept.len(), held.len()), (32, 8));
        assert!(kept.windows(2).all(|w| w[0] < w[1]) && held.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<usize> = kept.iter().chain(&held).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        // Classes 0..=2 have 10 examples and class 3 has 10: two of each are held out.
        for class in 0..4u8 {
            let n = held.iter().filter(|&&i| labels[i] == class).count();
            assert_eq!(n, 2, "class {class}");
        }
        assert_eq!(hold_out(&labels, 8, 11).unwrap().1, held);
        assert_ne!(hold_out(&labels, 8, 12).unwrap().1, held);
        assert!(matches!(
            hold_out(&labels, 40, 11),
            Err(DataError::SplitTooLarge {
                test: 40,
                total: 40
            })
        ));
    }
}
