//! The size firmware: only what a product ships — parse the model from flash and classify
//! one image with a `.bss` workspace of exactly the model's `workspace_sizes().classify` —
//! so that its sections are the runtime's flash and RAM cost. It prints the label, the
//! instruction counts and the stack the two calls used.
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use gmvae_firmware::golden::{self, PIXELS};
use gmvae_firmware::{clock, error_name, fail, semihosting, stack, Line, TARGET};
use gmvae_runtime::{Model, Workspace};

/// The golden model's classify workspace (`Model::workspace_sizes().classify`).
const WS_LEN: usize = 12_700;

/// Which golden input to classify (`digit-3-a`).
const INPUT: usize = 6;

static mut WORKSPACE: Workspace<WS_LEN> = Workspace::new();

#[entry]
fn main() -> ! {
    // SAFETY: `main` runs once on one core and is the only user of `WORKSPACE`.
    let ws = unsafe { &mut *addr_of_mut!(WORKSPACE) };
    let (per_tick, _) = clock::start_calibrated();
    let mut image = [0.0f32; PIXELS];
    golden::image(INPUT, &mut image);

    let painted = stack::paint();
    let t0 = clock::ticks();
    let parsed = Model::parse(golden::MODEL);
    let t1 = clock::ticks();
    let verdict = match parsed {
        Ok(model) => model.classify(&image, ws),
        Err(e) => fail("parse", error_name(e)),
    };
    let t2 = clock::ticks();
    let used = painted.used();
    let total = painted.total();
    let verdict = match verdict {
        Ok(v) => v,
        Err(e) => fail("classify", error_name(e)),
    };
    let mut line = Line::new();
    line.text("firmware size")
        .key("target")
        .text(TARGET)
        .key("input")
        .dec(INPUT as u64)
        .key("label")
        .dec(verdict.label as u64)
        .key("accepted")
        .flag(verdict.decision.is_accepted())
        .key("parse_instructions")
        .dec((t1 - t0) * per_tick)
        .key("classify_instructions")
        .dec((t2 - t1) * per_tick)
        .key("workspace_bytes")
        .dec((WS_LEN * 4) as u64)
        .key("stack")
        .dec(used as u64)
        .key("stack_total")
        .dec(total as u64);
    line.print();
    semihosting::exit(true)
}
