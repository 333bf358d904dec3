//! One line of output, built without `core::fmt`.

use gmvae_runtime::Verdict;

use crate::semihosting;

/// Bytes in a line (the longest, a reclassification with ten starts, needs about 400).
const CAPACITY: usize = 1024;

/// A line of text in a fixed buffer; what does not fit is dropped and marked with `~`.
pub struct Line {
    buf: [u8; CAPACITY],
    len: usize,
    overflowed: bool,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; CAPACITY],
            len: 0,
            overflowed: false,
        }
    }

    /// Appends raw bytes (two are always kept for the newline and the NUL).
    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            if self.len + 2 < CAPACITY {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = b;
                    self.len += 1;
                }
            } else {
                self.overflowed = true;
            }
        }
        self
    }

    /// Appends text.
    pub fn text(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// Appends `key=value` after a space.
    pub fn key(&mut self, key: &str) -> &mut Self {
        self.text(" ").text(key).text("=")
    }

    /// Appends a decimal number.
    pub fn dec(&mut self, mut v: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut n = 0;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0' + (v % 10) as u8;
            }
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            if let Some(&d) = digits.get(i) {
                self.bytes(&[d]);
            }
        }
        self
    }

    /// Appends `0` or `1`.
    pub fn flag(&mut self, v: bool) -> &mut Self {
        self.bytes(if v { b"1" } else { b"0" })
    }

    /// Appends an `f32`'s bit pattern as `0x` and eight lower-case hex digits.
    pub fn bits(&mut self, v: f32) -> &mut Self {
        let u = v.to_bits();
        self.text("0x");
        for shift in (0..8).rev() {
            let nibble = ((u >> (shift * 4)) & 0xf) as usize;
            if let Some(&c) = b"0123456789abcdef".get(nibble) {
                self.bytes(&[c]);
            }
        }
        self
    }

    /// Appends `f32` bit patterns separated by commas.
    pub fn bits_list(&mut self, values: &[f32]) -> &mut Self {
        for (i, &v) in values.iter().enumerate() {
            if i > 0 {
                self.text(",");
            }
            self.bits(v);
        }
        self
    }

    /// Appends a verdict: label, decision, both rejection flags and both distances' bits.
    pub fn verdict(&mut self, v: &Verdict) -> &mut Self {
        let (latent, reconstruction) = v.decision.rejection_flags();
        self.key("label")
            .dec(v.label as u64)
            .key("accepted")
            .flag(v.decision.is_accepted())
            .key("rejected_latent")
            .flag(latent)
            .key("rejected_reconstruction")
            .flag(reconstruction)
            .key("mahalanobis_sq")
            .bits(v.mahalanobis_sq)
            .key("reconstruction_error")
            .bits(v.reconstruction_error)
    }

    /// Prints the line with a newline over semihosting and empties it.
    pub fn print(&mut self) {
        if self.overflowed {
            self.len = self.len.min(CAPACITY - 3);
            self.bytes(b"~");
        }
        let end = self.len;
        if let Some(tail) = self.buf.get_mut(end..end + 2) {
            tail.copy_from_slice(b"\n\0");
            if let Some(text) = self.buf.get(..end + 2) {
                semihosting::write0(text);
            }
        }
        self.len = 0;
        self.overflowed = false;
    }
}
