//! Firmware-shaped link check: no `std`, no `alloc`, no `main` from Rust's runtime, aborting
//! panics. The C start files call the exported `main`, which parses the golden model embedded
//! with `include_bytes!` (no alignment needed), classifies one golden input from a `static`
//! workspace and returns the label as the exit code (or 100 + an error code).
//!
//! Built for the host (embedded targets cannot be installed here); only libc's start files
//! and `memcpy`/`memset` come from outside Rust's `core`.
#![no_std]
#![no_main]

use gmvae_runtime::{Error, Model, Workspace};

/// The golden model (edge preset), as firmware would embed it in flash.
static MODEL: &[u8] = include_bytes!("../../../fixtures/golden/model.gmvae");

/// The golden inputs: `count × 784` little-endian f32 (fixtures/README.md).
static INPUTS: &[u8] = include_bytes!("../../../fixtures/golden/inputs.f32le");

/// Which golden input to classify (`digit-3-a`, whose golden label is 3).
const INPUT: usize = 6;

/// `f32`s of workspace: the golden model needs 12 700 (`Model::workspace_sizes().classify`).
const WS_LEN: usize = 12_700;

/// Scratch memory in `.bss`, as firmware would reserve it.
static mut WORKSPACE: Workspace<WS_LEN> = Workspace::new();

/// Pixels of one 28 × 28 image.
const PIXELS: usize = 28 * 28;

/// Exit codes above 100 name the failure.
fn failure(e: Error) -> i32 {
    match e {
        Error::Format(_) => 101,
        Error::WorkspaceTooSmall { .. } => 102,
        _ => 103,
    }
}

fn run(ws: &mut [f32]) -> Result<usize, Error> {
    let model = Model::parse(MODEL)?;
    let mut image = [0.0f32; PIXELS];
    let start = INPUT * PIXELS * 4;
    let Some(bytes) = INPUTS.get(start..start + PIXELS * 4) else {
        return Err(Error::Internal);
    };
    for (v, b) in image.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let verdict = model.classify(&image, ws)?;
    Ok(verdict.label)
}

/// The C entry point called by the platform's start files.
// SAFETY (`unsafe(no_mangle)`): this is the only `main` symbol in the program; the C start
// files call it with the C ABI declared here.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    // SAFETY: `main` runs once, on one thread, and nothing else refers to `WORKSPACE`, so
    // this is the only reference to it for the whole program.
    let ws = unsafe { &mut *core::ptr::addr_of_mut!(WORKSPACE) };
    match run(ws) {
        Ok(label) => label as i32,
        Err(e) => failure(e),
    }
}

// libc: its start files call `main`, and it provides `memcpy`/`memset` (which `core` emits
// calls to) and `abort`, the host's stand-in for a firmware reset. A `no_std` binary is
// linked with `-nodefaultlibs`, so libc is named here.
#[link(name = "c")]
extern "C" {
    fn abort() -> !;
}

/// The precompiled `core` of a hosted target refers to an unwinding personality routine
/// even with `panic = "abort"`; with aborting panics nothing unwinds, so it is never called.
// SAFETY (`unsafe(no_mangle)`): no other `rust_eh_personality` is linked (there is no `std`).
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// `gmvae-runtime` never panics; were a bug to make it, abort (firmware would reset).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: libc's `abort` takes no arguments, has no preconditions and does not return.
    unsafe { abort() }
}
