//! Runtime workspaces sized at run time for the command-line tools.
//!
//! [`gmvae_runtime::Workspace`] has a compile-time capacity; the tools pick the smallest of a
//! few capacities that fits the model, keep it in a `Box`, and run the work on a thread whose
//! stack can hold the array even where the compiler builds it on the stack first.

use anyhow::{anyhow, bail, Result};
use gmvae_runtime::{Error, Latent, Model, Verdict, Workspace};

/// A boxed runtime workspace of some capacity, behind an object-safe interface.
pub trait RuntimeWorkspace {
    /// [`Model::classify`] with this workspace.
    fn classify(&mut self, model: &Model<'_>, image: &[f32]) -> Result<Verdict, Error>;
    /// [`Model::encode`] with this workspace.
    fn encode(&mut self, model: &Model<'_>, image: &[f32]) -> Result<Latent, Error>;
    /// Capacity in `f32`s.
    fn capacity(&self) -> usize;
}

impl<const N: usize> RuntimeWorkspace for Workspace<N> {
    fn classify(&mut self, model: &Model<'_>, image: &[f32]) -> Result<Verdict, Error> {
        model.classify(image, self)
    }

    fn encode(&mut self, model: &Model<'_>, image: &[f32]) -> Result<Latent, Error> {
        model.encode(image, self)
    }

    fn capacity(&self) -> usize {
        N
    }
}

/// Largest workspace the tools allocate, in `f32`s (256 MiB).
pub const MAX_WORKSPACE: usize = 1 << 26;

/// A zeroed workspace of `N` `f32`s in a `Box`.
fn boxed<const N: usize>() -> Box<dyn RuntimeWorkspace> {
    Box::new(Workspace::<N>::new())
}

/// The smallest supported workspace with at least `needed` `f32`s.
fn workspace_for(needed: usize) -> Result<Box<dyn RuntimeWorkspace>> {
    Ok(match needed {
        0..=65_536 => boxed::<65_536>(),
        65_537..=262_144 => boxed::<262_144>(),
        262_145..=1_048_576 => boxed::<1_048_576>(),
        1_048_577..=4_194_304 => boxed::<4_194_304>(),
        4_194_305..=16_777_216 => boxed::<16_777_216>(),
        16_777_217..=MAX_WORKSPACE => boxed::<MAX_WORKSPACE>(),
        _ => bail!(
            "the model needs a workspace of {needed} f32s; the tools support at most {MAX_WORKSPACE}"
        ),
    })
}

/// Runs `job` with a workspace of at least `needed` `f32`s on a thread of its own (one
/// thread: the runtime never spawns any).
pub fn with_workspace<R, F>(needed: usize, job: F) -> Result<R>
where
    R: Send,
    F: FnOnce(&mut dyn RuntimeWorkspace) -> Result<R> + Send,
{
    if needed > MAX_WORKSPACE {
        bail!(
            "the model needs a workspace of {needed} f32s; the tools support at most {MAX_WORKSPACE}"
        );
    }
    // Room for the array twice (a debug build may copy it) plus ordinary stack use.
    let stack = needed.next_power_of_two().max(65_536) * 4 * 2 + (8 << 20);
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("gmvae-runtime".into())
            .stack_size(stack)
            .spawn_scoped(scope, move || {
                let mut ws = workspace_for(needed)?;
                job(ws.as_mut())
            })
            .map_err(|e| anyhow!("cannot start the runtime thread: {e}"))?;
        worker
            .join()
            .map_err(|_| anyhow!("the runtime thread panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_a_capacity_that_fits() {
        for needed in [0, 52_202, 65_537, 1_000_000] {
            let capacity = with_workspace(needed, |ws| Ok(ws.capacity())).unwrap();
            assert!(
                capacity >= needed && capacity <= 4 * needed.max(16_384),
                "{needed}"
            );
        }
        assert!(with_workspace(MAX_WORKSPACE + 1, |_| Ok(())).is_err());
    }
}
