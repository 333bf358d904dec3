//! Heap-free deterministic gmvae inference (filled in by the runtime issue).
#![no_std]
