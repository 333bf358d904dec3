//! The two Arm semihosting calls the firmware needs (write a string, exit), as `bkpt 0xab`
//! traps that QEMU's `-semihosting-config enable=on` serves.

/// `SYS_WRITE0`: write a NUL-terminated string to the debug console.
const SYS_WRITE0: u32 = 0x04;
/// `SYS_EXIT`: end the program.
const SYS_EXIT: u32 = 0x18;
/// `ADP_Stopped_ApplicationExit`: a normal exit (QEMU exits with status 0).
const APPLICATION_EXIT: u32 = 0x20026;
/// `ADP_Stopped_RunTimeErrorUnknown`: a failure (QEMU exits with status 1).
const RUNTIME_ERROR: u32 = 0x20023;

/// One semihosting call: operation in r0, parameter in r1, result in r0.
fn call(op: u32, arg: usize) -> u32 {
    let result: u32;
    // SAFETY: `bkpt 0xab` is the semihosting trap; the host reads r0 and r1 (and for
    // SYS_WRITE0 the string r1 points to, which the caller keeps alive) and writes r0.
    unsafe {
        core::arch::asm!("bkpt #0xab", inout("r0") op => result, in("r1") arg, options(nostack));
    }
    result
}

/// Writes `text`, which must end with a NUL byte (nothing is written otherwise).
pub fn write0(text: &[u8]) {
    if text.last() == Some(&0) {
        call(SYS_WRITE0, text.as_ptr() as usize);
    }
}

/// Ends the program: QEMU exits with status 0 when `success`, else 1.
pub fn exit(success: bool) -> ! {
    let reason = if success {
        APPLICATION_EXIT
    } else {
        RUNTIME_ERROR
    };
    call(SYS_EXIT, reason as usize);
    // Not reached under QEMU; on a board without a debugger, stop here.
    loop {
        cortex_m::asm::wfi();
    }
}
