//! The conformance firmware: classifies every golden input with the Rust API and with the C
//! example (through the C interface), reclassifies one, and prints each result with its
//! exact `f32` bits, its instruction count and its stack depth; `compare.py` checks the
//! output against `fixtures/golden/expected.json` and `reclassify.json` bit for bit.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use cortex_m_rt::entry;
use gmvae_capi::{GmvaeStatus, GmvaeVerdict, GMVAE_OK};
use gmvae_firmware::golden::{self, COUNT, PIXELS};
use gmvae_firmware::{clock, error_name, fail, semihosting, stack, Line, TARGET};
use gmvae_runtime::{Model, ReclassifySettings, Workspace};

/// `f32`s of workspace: the golden model's `reclassify_lockstep` (every start at once), which
/// also covers classify's 12 700.
const WS_LEN: usize = 30_240;

/// The golden input reclassified (`digit-0-a`), with the settings of `reclassify.json`.
const RECLASSIFIED: usize = 0;
const RECLASSIFY_STEPS: u32 = 25;

static mut WORKSPACE: Workspace<WS_LEN> = Workspace::new();
static mut IMAGES: [f32; COUNT * PIXELS] = [0.0; COUNT * PIXELS];
static mut C_RESULTS: MaybeUninit<[GmvaeVerdict; COUNT]> = MaybeUninit::uninit();

extern "C" {
    /// `runtime/capi/c/classify_golden.c`, compiled by build.rs with arm-none-eabi-gcc.
    fn classify_golden(
        model_bytes: *const u8,
        model_len: usize,
        images: *const f32,
        image_len: usize,
        count: usize,
        workspace: *mut f32,
        workspace_len: usize,
        results: *mut GmvaeVerdict,
        failed_at: *mut usize,
    ) -> GmvaeStatus;
}

#[entry]
fn main() -> ! {
    // SAFETY: `main` runs once on one core and is the only code that refers to these
    // statics, so each reference is unique for the whole program.
    let (ws, images, c_results) = unsafe {
        (
            &mut *addr_of_mut!(WORKSPACE),
            &mut *addr_of_mut!(IMAGES),
            &mut *addr_of_mut!(C_RESULTS),
        )
    };
    let mut line = Line::new();
    let (per_tick, calibration) = clock::start_calibrated();
    line.text("firmware conformance")
        .key("target")
        .text(TARGET)
        .key("calibration_instructions")
        .dec(clock::CALIBRATION_INSTRUCTIONS.into())
        .key("calibration_ticks")
        .dec(calibration)
        .key("instructions_per_tick")
        .dec(per_tick);
    line.print();

    let t0 = clock::ticks();
    let model = match Model::parse(golden::MODEL) {
        Ok(m) => m,
        Err(e) => fail("parse", error_name(e)),
    };
    let parse_ticks = clock::ticks() - t0;
    let sizes = model.workspace_sizes();
    line.text("parse")
        .key("instructions")
        .dec(parse_ticks * per_tick)
        .key("workspace_classify")
        .dec(sizes.classify as u64)
        .key("workspace_reclassify")
        .dec(sizes.reclassify as u64)
        .key("workspace_reclassify_lockstep")
        .dec(sizes.reclassify_lockstep as u64);
    line.print();

    for (i, image) in images.chunks_exact_mut(PIXELS).enumerate() {
        golden::image(i, image);
    }

    let mut deepest = 0;
    for (i, image) in images.chunks_exact(PIXELS).enumerate() {
        let stack::Measured {
            value: verdict,
            ticks,
            stack: used,
        } = stack::measure(|| model.classify(image, ws));
        deepest = deepest.max(used);
        let v = match verdict {
            Ok(v) => v,
            Err(e) => fail("classify", error_name(e)),
        };
        line.text("classify ")
            .dec(i as u64)
            .verdict(&v)
            .key("latent")
            .bits_list(&v.latent)
            .key("instructions")
            .dec(ticks * per_tick)
            .key("stack")
            .dec(used as u64);
        line.print();
    }
    line.text("classify-stack")
        .key("deepest")
        .dec(deepest as u64);
    line.print();

    let settings = ReclassifySettings {
        steps: RECLASSIFY_STEPS,
        ..ReclassifySettings::DEFAULT
    };
    let image = images.chunks_exact(PIXELS).nth(RECLASSIFIED).unwrap_or(&[]);
    let stack::Measured {
        value: result,
        ticks,
        stack: used,
    } = stack::measure(|| model.reclassify(image, ws, &settings));
    let r = match result {
        Ok(r) => r,
        Err(e) => fail("reclassify", error_name(e)),
    };
    line.text("reclassify ")
        .dec(RECLASSIFIED as u64)
        .key("label")
        .dec(r.label as u64)
        .key("start")
        .dec(r.start as u64)
        .key("accepted")
        .flag(r.decision.is_accepted())
        .key("passes_thresholds")
        .flag(r.threshold_test.is_accepted())
        .key("mahalanobis_sq")
        .bits(r.mahalanobis_sq)
        .key("reconstruction_error")
        .bits(r.reconstruction_error)
        .key("latent")
        .bits_list(&r.latent)
        .key("start_losses")
        .bits_list(&r.start_losses);
    line.key("start_steps");
    for (k, steps) in r.start_steps.iter().enumerate() {
        if k > 0 {
            line.text(",");
        }
        line.dec(u64::from(*steps));
    }
    line.key("steps")
        .dec(u64::from(RECLASSIFY_STEPS))
        .key("workspace")
        .dec(WS_LEN as u64)
        .key("instructions")
        .dec(ticks * per_tick)
        .key("stack")
        .dec(used as u64);
    line.print();

    let mut failed_at = 0usize;
    // SAFETY: every pointer addresses what its length says: the golden model in flash (which
    // never changes), COUNT images, the workspace, and COUNT result structs; none overlap.
    let measured = stack::measure(|| unsafe {
        classify_golden(
            golden::MODEL.as_ptr(),
            golden::MODEL.len(),
            images.as_ptr(),
            PIXELS,
            COUNT,
            ws.as_mut_ptr(),
            WS_LEN,
            c_results.as_mut_ptr().cast::<GmvaeVerdict>(),
            &mut failed_at,
        )
    });
    let (status, ticks, used) = (measured.value, measured.ticks, measured.stack);
    if status != GMVAE_OK {
        line.text("error c-example")
            .key("status")
            .dec(status as u64)
            .key("image")
            .dec(failed_at as u64);
        line.print();
        semihosting::exit(false);
    }
    // SAFETY: `classify_golden` returned GMVAE_OK, so it wrote all COUNT verdicts.
    let c_results = unsafe { c_results.assume_init_ref() };
    for (i, v) in c_results.iter().enumerate() {
        line.text("c-example ")
            .dec(i as u64)
            .key("label")
            .dec(u64::from(v.label))
            .key("accepted")
            .flag(v.accepted)
            .key("rejected_latent")
            .flag(v.rejected_latent)
            .key("rejected_reconstruction")
            .flag(v.rejected_reconstruction)
            .key("mahalanobis_sq")
            .bits(v.mahalanobis_sq)
            .key("reconstruction_error")
            .bits(v.reconstruction_error);
        line.print();
    }
    line.text("c-example-total")
        .key("images")
        .dec(COUNT as u64)
        .key("instructions")
        .dec(ticks * per_tick)
        .key("stack")
        .dec(used as u64);
    line.print();
    line.text("done");
    line.print();
    semihosting::exit(true)
}
