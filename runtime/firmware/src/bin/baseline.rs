//! The size firmware with everything but the runtime: the same start-up, clock, stack
//! painting, golden image decoding and output, and the same failure path, but no parse and
//! no classify. `.text` of `size` minus `.text` of this is the runtime's flash cost.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use gmvae_firmware::golden::{self, PIXELS};
use gmvae_firmware::{clock, fail, semihosting, stack, Line, TARGET};

/// The image `size` classifies.
const INPUT: usize = 6;

#[entry]
fn main() -> ! {
    let (per_tick, _) = clock::start_calibrated();
    let mut image = [0.0f32; PIXELS];
    golden::image(INPUT, &mut image);
    let painted = stack::paint();
    let t0 = clock::ticks();
    // Keeps the image and the failure path alive, as `size` does.
    if image.iter().all(|&v| v == 0.0) || golden::MODEL.is_empty() {
        fail("input", "empty");
    }
    let t1 = clock::ticks();
    let used = painted.used();
    let mut line = Line::new();
    line.text("firmware baseline")
        .key("target")
        .text(TARGET)
        .key("input")
        .dec(INPUT as u64)
        .key("check_instructions")
        .dec((t1 - t0) * per_tick)
        .key("stack")
        .dec(used as u64);
    line.print();
    semihosting::exit(true)
}
