//! The strings section: the dataset name, then one name per class, each a little-endian
//! `u16` byte length followed by that many bytes of UTF-8.

use crate::bytes::u16_at;
use crate::error::{FormatError, Section};
use crate::limits::MAX_NAME_LEN;

/// Reads the string at `pos`: its text and the position after it. `None` if the length
/// prefix or the bytes run past `section`, or the text is not UTF-8.
pub(crate) fn read_at(section: &[u8], pos: usize) -> Option<(&str, usize)> {
    let len = usize::from(u16_at(section, pos)?);
    let start = pos.checked_add(2)?;
    let end = start.checked_add(len)?;
    let text = core::str::from_utf8(section.get(start..end)?).ok()?;
    Some((text, end))
}

/// The validated strings section: the dataset name and the bytes holding the class names.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strings<'a> {
    pub(crate) dataset: &'a str,
    pub(crate) class_names: &'a [u8],
}

impl<'a> Strings<'a> {
    /// Checks `classes + 1` strings: lengths within the section, ≤ [`MAX_NAME_LEN`], UTF-8.
    /// The section must end right after them, unless `newer` (a newer minor may append).
    pub(crate) fn parse(
        section: &'a [u8],
        classes: usize,
        newer: bool,
    ) -> Result<Self, FormatError> {
        let layout = FormatError::BadLayout {
            section: Section::Strings,
        };
        let mut pos = 0usize;
        let mut dataset = "";
        let mut class_start = 0usize;
        for index in 0..=classes {
            let len = usize::from(u16_at(section, pos).ok_or(layout)?);
            let start = pos.checked_add(2).ok_or(layout)?;
            let end = start.checked_add(len).ok_or(layout)?;
            let bytes = section.get(start..end).ok_or(layout)?;
            if len > MAX_NAME_LEN {
                return Err(FormatError::StringTooLong { index, len });
            }
            let text = core::str::from_utf8(bytes).map_err(|_| FormatError::BadUtf8 { index })?;
            if index == 0 {
                dataset = text;
                class_start = end;
            }
            pos = end;
        }
        if !newer && pos != section.len() {
            return Err(layout);
        }
        Ok(Strings {
            dataset,
            class_names: section.get(class_start..pos).unwrap_or(&[]),
        })
    }
}

/// Iterator over the class names of a parsed model, in class order.
#[derive(Clone, Copy, Debug)]
pub struct ClassNames<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ClassNames<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }
}

impl<'a> Iterator for ClassNames<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (text, end) = read_at(self.bytes, self.pos)?;
        self.pos = end;
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        let s = [3, 0, b'a', b'b', b'c', 1, 0, b'x', 0, 0];
        let p = Strings::parse(&s, 2, false).unwrap();
        assert_eq!(p.dataset, "abc");
        let names: [&str; 2] = {
            let mut it = ClassNames::new(p.class_names);
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(names, ["x", ""]);
        assert_eq!(
            Strings::parse(&s, 3, false).unwrap_err(),
            FormatError::BadLayout {
                section: Section::Strings
            }
        );
        assert!(Strings::parse(&s, 1, false).is_err());
        assert!(Strings::parse(&s, 1, true).is_ok());
        let bad = [1, 0, 0xFF];
        assert_eq!(
            Strings::parse(&bad, 0, false).unwrap_err(),
            FormatError::BadUtf8 { index: 0 }
        );
    }
}
