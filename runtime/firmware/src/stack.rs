//! The stack high-water mark of one call: paint the stack below the caller with a pattern,
//! run the call, and find the deepest word it overwrote.

/// The paint pattern.
const PAINT: u32 = 0xc5c5_c5c5;
/// Bytes painted below the caller's stack pointer (far more than any call here needs; a
/// call that reaches the bottom is reported as using all of it).
const DEPTH: usize = 64 * 1024;

/// The painted region `[bottom, top)` below the stack pointer at [`paint`].
pub struct Painted {
    bottom: usize,
    top: usize,
    sp: usize,
}

extern "C" {
    /// End of `.bss`/`.uninit` (cortex-m-rt's linker script): the stack must not go lower.
    static __sheap: u32;
    /// The initial stack pointer (cortex-m-rt's linker script): the top of the stack.
    static _stack_start: u32;
}

/// Paints the [`DEPTH`] bytes below the caller's stack pointer. Inlined, so that the stack
/// pointer read is the caller's and the loop needs no frame of its own.
#[inline(always)]
pub fn paint() -> Painted {
    let sp = cortex_m::register::msp::read() as usize;
    // Only the symbol's address is taken (no read: no `unsafe` needed).
    let floor = core::ptr::addr_of!(__sheap) as usize;
    let top = sp & !3;
    let bottom = top.saturating_sub(DEPTH).max(floor);
    let mut addr = bottom;
    while addr < top {
        // SAFETY: `[bottom, top)` lies between the end of the statics and the stack
        // pointer, below every live frame (Arm has no red zone), so nothing uses it now.
        unsafe { core::ptr::write_volatile(addr as *mut u32, PAINT) };
        addr += 4;
    }
    Painted { bottom, top, sp }
}

impl Painted {
    /// Bytes of stack used below the caller's stack pointer at [`paint`] since it painted
    /// (exception frames that arrived meanwhile included, as they would be on a device).
    /// Inlined, so that the measuring call's own frame is not counted.
    #[inline(always)]
    pub fn used(&self) -> usize {
        let mut addr = self.bottom;
        while addr < self.top {
            // SAFETY: inside the painted region, which only stack frames wrote to.
            if unsafe { core::ptr::read_volatile(addr as *const u32) } != PAINT {
                break;
            }
            addr += 4;
        }
        self.sp - addr
    }

    /// Bytes of stack in use at the deepest point since [`paint`], counted from the top of
    /// the stack (cortex-m-rt's `_stack_start`): the caller's frames plus [`Painted::used`].
    pub fn total(&self) -> usize {
        // Only the symbol's address is taken.
        let top = core::ptr::addr_of!(_stack_start) as usize;
        top - self.sp + self.used()
    }
}

/// What [`measure`] found.
pub struct Measured<T> {
    /// The call's result.
    pub value: T,
    /// SysTick counts the call took ([`crate::clock`]).
    pub ticks: u64,
    /// Bytes of stack it used below the caller ([`Painted::used`]).
    pub stack: usize,
}

/// Runs `f` on a painted stack with the clock running. Inlined, so that the painting starts
/// at the caller's stack pointer.
#[inline(always)]
pub fn measure<T>(f: impl FnOnce() -> T) -> Measured<T> {
    let painted = paint();
    let t0 = crate::clock::ticks();
    let value = f();
    let ticks = crate::clock::ticks() - t0;
    Measured {
        value,
        ticks,
        stack: painted.used(),
    }
}
