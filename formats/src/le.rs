//! Little-endian `f32` views over raw file bytes.

/// A read-only view of little-endian IEEE-754 `f32` values stored in a byte buffer.
///
/// The view needs no alignment: every element is a `[u8; 4]`, decoded with
/// [`f32::from_le_bytes`], which compiles to a plain load on little-endian targets and to a
/// byte swap on big-endian ones, so the same bytes give the same values everywhere.
#[derive(Clone, Copy)]
pub struct LeF32<'a> {
    words: &'a [[u8; 4]],
}

impl<'a> LeF32<'a> {
    /// A view of no values.
    pub const EMPTY: LeF32<'static> = LeF32 { words: &[] };

    /// Views already-split little-endian words.
    pub const fn from_words(words: &'a [[u8; 4]]) -> Self {
        Self { words }
    }

    /// Views `bytes` as little-endian `f32` values; `None` if the length is not a multiple of 4.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let (words, rest) = bytes.as_chunks::<4>();
        rest.is_empty().then_some(Self { words })
    }

    /// Number of `f32` values in the view.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the view holds no values.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The value at `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<f32> {
        self.words.get(index).map(|w| f32::from_le_bytes(*w))
    }

    /// The raw little-endian words, for kernels that decode them in their inner loops.
    pub fn words(&self) -> &'a [[u8; 4]] {
        self.words
    }

    /// A sub-view of `len` values starting at `start`, or `None` if it does not fit.
    pub fn slice(&self, start: usize, len: usize) -> Option<Self> {
        let end = start.checked_add(len)?;
        self.words.get(start..end).map(|words| Self { words })
    }

    /// Iterates over the decoded values in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = f32> + 'a {
        self.words.iter().map(|w| f32::from_le_bytes(*w))
    }
}

/// Prints the length and the first few values, not megabytes of weights.
impl core::fmt::Debug for LeF32<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const SHOWN: usize = 4;
        write!(f, "LeF32(len {}: [", self.len())?;
        for (i, v) in self.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str(if self.len() > SHOWN { ", …])" } else { "])" })
    }
}
