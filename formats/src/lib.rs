//! The gmvae compact weight format (filled in by the format issue).
#![no_std]

pub mod le;
