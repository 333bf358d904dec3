//! The paper-sized model on the board: `fixtures/models/mnist-quantile.gmvae` (6.6 MB, too
//! large for the 4 MiB code memory) in the 16 MiB PSRAM as if it were memory-mapped external
//! flash, the workspace (`workspace_sizes().classify` = 56 508 `f32`) in `.bss`. Parses it
//! and classifies the golden inputs, printing each verdict's label, decision, distances and
//! instruction count, and the stack the calls used.
#![no_std]
#![no_main]

use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use gmvae_firmware::golden::{self, COUNT, PIXELS};
use gmvae_firmware::{clock, error_name, fail, semihosting, stack, Line, TARGET};
use gmvae_runtime::{Model, Workspace};

/// Bytes of the paper-sized model file.
const MODEL_LEN: usize = include_bytes!("../../../../fixtures/models/mnist-quantile.gmvae").len();

/// The paper-sized model, in PSRAM (memory.x).
#[link_section = ".psram"]
static MODEL: [u8; MODEL_LEN] = *include_bytes!("../../../../fixtures/models/mnist-quantile.gmvae");

/// The paper-sized model's classify workspace.
const WS_LEN: usize = 56_508;

static mut WORKSPACE: Workspace<WS_LEN> = Workspace::new();

#[entry]
fn main() -> ! {
    // SAFETY: `main` runs once on one core and is the only user of `WORKSPACE`.
    let ws = unsafe { &mut *addr_of_mut!(WORKSPACE) };
    let (per_tick, _) = clock::start_calibrated();
    let mut line = Line::new();

    let stack::Measured {
        value: parsed,
        ticks: parse_ticks,
        stack: parse_stack,
    } = stack::measure(|| Model::parse(&MODEL));
    let model = match parsed {
        Ok(m) => m,
        Err(e) => fail("parse", error_name(e)),
    };
    line.text("paper-model")
        .key("target")
        .text(TARGET)
        .key("bytes")
        .dec(MODEL_LEN as u64)
        .key("workspace_classify")
        .dec(model.workspace_sizes().classify as u64)
        .key("parse_instructions")
        .dec(parse_ticks * per_tick)
        .key("parse_stack")
        .dec(parse_stack as u64);
    line.print();

    let mut image = [0.0f32; PIXELS];
    for i in 0..COUNT {
        golden::image(i, &mut image);
        let stack::Measured {
            value: verdict,
            ticks,
            stack: used,
        } = stack::measure(|| model.classify(&image, ws));
        let v = match verdict {
            Ok(v) => v,
            Err(e) => fail("classify", error_name(e)),
        };
        line.text("paper-classify ")
            .dec(i as u64)
            .verdict(&v)
            .key("instructions")
            .dec(ticks * per_tick)
            .key("stack")
            .dec(used as u64);
        line.print();
    }
    line.text("done");
    line.print();
    semihosting::exit(true)
}
