//! What both firmware programs share: semihosting output and exit, an instruction counter on
//! SysTick, stack painting, and the golden fixtures in flash.
//!
//! Nothing here uses `core::fmt`: numbers are written by hand ([`Line`]), so the formatting
//! machinery is not linked into the firmware at all.
#![no_std]

pub mod clock;
pub mod golden;
pub mod line;
pub mod semihosting;
pub mod stack;

pub use line::Line;

/// The target triple this firmware was built for (set by build.rs).
pub const TARGET: &str = env!("FIRMWARE_TARGET");

/// The name of a runtime error, without `core::fmt`.
pub fn error_name(e: gmvae_runtime::Error) -> &'static str {
    use gmvae_runtime::Error;
    match e {
        Error::Format(f) => format_error_name(f),
        Error::LatentTooWide { .. } => "LatentTooWide",
        Error::ModelTooLarge => "ModelTooLarge",
        Error::WorkspaceTooSmall { .. } => "WorkspaceTooSmall",
        Error::ImageLength { .. } => "ImageLength",
        Error::NonFiniteInput { .. } => "NonFiniteInput",
        Error::PixelOutOfRange { .. } => "PixelOutOfRange",
        Error::InvalidSetting { .. } => "InvalidSetting",
        Error::NonFiniteOutput => "NonFiniteOutput",
        _ => "Other",
    }
}

/// The name of a format error (the reader's reason a model file was refused).
fn format_error_name(e: gmvae_runtime::FormatError) -> &'static str {
    use gmvae_runtime::FormatError as F;
    match e {
        F::Truncated { .. } => "Format(Truncated)",
        F::BadMagic => "Format(BadMagic)",
        F::UnsupportedMajorVersion { .. } => "Format(UnsupportedMajorVersion)",
        F::FileTooLarge { .. } => "Format(FileTooLarge)",
        F::TrailingBytes { .. } => "Format(TrailingBytes)",
        F::ChecksumMismatch { .. } => "Format(ChecksumMismatch)",
        F::BadLayout { .. } => "Format(BadLayout)",
        F::NonZeroPadding { .. } => "Format(NonZeroPadding)",
        F::UnsupportedArchitecture { .. } => "Format(UnsupportedArchitecture)",
        F::DimensionTooLarge { .. } => "Format(DimensionTooLarge)",
        F::InvalidDimension { .. } => "Format(InvalidDimension)",
        F::UnknownCovarianceKind { .. } => "Format(UnknownCovarianceKind)",
        F::UnknownStatistic { .. } => "Format(UnknownStatistic)",
        F::BadCalibration { .. } => "Format(BadCalibration)",
        F::BadThreshold { .. } => "Format(BadThreshold)",
        F::StringTooLong { .. } => "Format(StringTooLong)",
        F::BadUtf8 { .. } => "Format(BadUtf8)",
        F::BadTensorCount { .. } => "Format(BadTensorCount)",
        F::BadTensorId { .. } => "Format(BadTensorId)",
        F::UnsupportedDtype { .. } => "Format(UnsupportedDtype)",
        F::BadTensorShape { .. } => "Format(BadTensorShape)",
        F::BadTensorLength { .. } => "Format(BadTensorLength)",
        F::MisalignedTensor { .. } => "Format(MisalignedTensor)",
        F::OverlappingTensors { .. } => "Format(OverlappingTensors)",
        F::TensorGap { .. } => "Format(TensorGap)",
        F::TensorOutOfBounds { .. } => "Format(TensorOutOfBounds)",
        F::DataEndMismatch { .. } => "Format(DataEndMismatch)",
        F::NonFiniteValue { .. } => "Format(NonFiniteValue)",
        F::NotSymmetric { .. } => "Format(NotSymmetric)",
        F::NotPositiveDefinite { .. } => "Format(NotPositiveDefinite)",
        F::PrecisionMismatch { .. } => "Format(PrecisionMismatch)",
        _ => "Format",
    }
}

/// Prints `error <what> <name>` and ends the program with a failure status.
pub fn fail(what: &str, name: &str) -> ! {
    let mut line = Line::new();
    line.text("error ").text(what).text(" ").text(name);
    line.print();
    semihosting::exit(false)
}

/// The firmware's panic handler: the runtime never panics, but were a bug to make it, the
/// host sees a failure status instead of a hang.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    semihosting::write0(b"error panic\n\0");
    semihosting::exit(false)
}
