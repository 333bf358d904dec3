//! Instruction counts from SysTick.
//!
//! QEMU run with `-icount shift=0` advances its virtual clock by exactly 1 ns per executed
//! instruction, and the mps2 boards clock SysTick from their 25 MHz system clock: one SysTick
//! count is then 40 instructions, on every run. [`start_calibrated`] checks that ratio on a loop of
//! known length at start-up instead of trusting it. SysTick is 24 bits wide; its exception
//! counts the wraps, so a measurement can be as long as needed.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;

/// The reload value: the counter's full 24 bits.
const RELOAD: u32 = 0x00ff_ffff;

/// Completed SysTick periods since [`start`].
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Starts SysTick from the processor clock, counting down from its full range.
fn start() {
    // SAFETY: called once at start-up, before anything else uses the SysTick registers;
    // this module is their only user.
    let mut p = unsafe { cortex_m::Peripherals::steal() };
    p.SYST.set_clock_source(SystClkSource::Core);
    p.SYST.set_reload(RELOAD);
    p.SYST.clear_current();
    p.SYST.enable_interrupt();
    p.SYST.enable_counter();
    // Clearing the counter reloads it on the next count (without a wrap): wait for that,
    // so that the first reading is not the cleared zero.
    while cortex_m::peripheral::SYST::get_current() == 0 {}
}

/// SysTick counts since [`start`].
pub fn ticks() -> u64 {
    loop {
        let before = WRAPS.load(Ordering::Relaxed);
        let current = cortex_m::peripheral::SYST::get_current();
        if WRAPS.load(Ordering::Relaxed) == before {
            return u64::from(before) * u64::from(RELOAD + 1) + u64::from(RELOAD - current);
        }
    }
}

/// Instructions in the calibration loop: `subs` and `bne` per iteration.
pub const CALIBRATION_INSTRUCTIONS: u32 = 2 * CALIBRATION_ITERATIONS;
/// Iterations of the calibration loop.
const CALIBRATION_ITERATIONS: u32 = 1_000_000;

/// Starts SysTick and measures it on the calibration loop: returns the instructions per
/// SysTick count (40 under `-icount shift=0`) and the counts the loop took.
pub fn start_calibrated() -> (u64, u64) {
    start();
    let ticks = calibrate();
    (u64::from(CALIBRATION_INSTRUCTIONS) / ticks.max(1), ticks)
}

/// SysTick counts taken by [`CALIBRATION_INSTRUCTIONS`] instructions.
fn calibrate() -> u64 {
    let t0 = ticks();
    // SAFETY: a register-only countdown loop; it touches no memory and no flags the
    // compiler relies on across the block (declared clobbered by default).
    unsafe {
        core::arch::asm!(
            "1:",
            "subs {n}, {n}, #1",
            "bne 1b",
            n = inout(reg) CALIBRATION_ITERATIONS => _,
            options(nomem, nostack),
        );
    }
    ticks() - t0
}
