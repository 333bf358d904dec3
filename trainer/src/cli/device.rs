//! Choosing the dfdx device a command runs on.

use anyhow::Result;
use dfdx::prelude::*;
use gmvae_trainer::train::TrainDevice;

/// Where to run the dfdx model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKind {
    /// CUDA if this binary was built with `--features cuda`, else the CPU.
    Auto,
    /// The CPU (all cores).
    Cpu,
    /// The first CUDA GPU (needs a build with `--features cuda`).
    Cuda,
}

/// Work that runs on whichever device the user picked.
pub trait OnDevice {
    /// What the work produces.
    type Output;
    /// Runs the work on `dev`.
    fn run<D: TrainDevice>(self, dev: D) -> Result<Self::Output>;
}

/// Runs `job` on the device `kind` names.
pub fn dispatch<J: OnDevice>(kind: DeviceKind, job: J) -> Result<J::Output> {
    match kind {
        DeviceKind::Cpu => job.run(Cpu::default()),
        #[cfg(feature = "cuda")]
        DeviceKind::Auto | DeviceKind::Cuda => {
            let dev = Cuda::try_build(0, 0)
                .map_err(|e| anyhow::anyhow!("cannot open CUDA device 0: {e:?}"))?;
            job.run(dev)
        }
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Auto => job.run(Cpu::default()),
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => anyhow::bail!(
            "this gmvae was built without CUDA; rebuild with `cargo build --release -p gmvae-trainer --features cuda`"
        ),
    }
}

/// The device name `kind` resolves to, for logs.
pub fn describe(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Cpu => "cpu",
        DeviceKind::Cuda => "cuda",
        DeviceKind::Auto if cfg!(feature = "cuda") => "cuda",
        DeviceKind::Auto => "cpu",
    }
}
