//! Caller-owned scratch memory.

/// Caller-owned `f32` scratch for [`crate::Model::classify`], [`crate::Model::encode`] and
/// [`crate::Model::decode_into`].
///
/// `N` is the capacity in `f32`s; [`crate::Model::workspace_len`] says how many a model
/// needs, and a call with a smaller workspace returns
/// [`crate::Error::WorkspaceTooSmall`]. [`Workspace::new`] is `const`, so a workspace can live
/// in a `static` (behind whatever lock the platform provides) instead of on the stack:
///
/// ```
/// use gmvae_runtime::Workspace;
/// static WS: std::sync::Mutex<Workspace<4096>> = std::sync::Mutex::new(Workspace::new());
/// assert_eq!(WS.lock().unwrap().capacity(), 4096);
/// ```
///
/// The contents between calls are unspecified; every call writes what it reads.
#[derive(Clone)]
pub struct Workspace<const N: usize> {
    buf: [f32; N],
}

impl<const N: usize> Workspace<N> {
    /// A zero-filled workspace.
    pub const fn new() -> Self {
        Self { buf: [0.0; N] }
    }

    /// Capacity in `f32`s (`N`).
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Capacity in bytes.
    pub const fn bytes(&self) -> usize {
        core::mem::size_of::<[f32; N]>()
    }

    /// The first `needed` elements, or the error the public API reports.
    pub(crate) fn slice(&mut self, needed: usize) -> Result<&mut [f32], crate::Error> {
        self.buf
            .get_mut(..needed)
            .ok_or(crate::Error::WorkspaceTooSmall {
                needed,
                available: N,
            })
    }
}

impl<const N: usize> Default for Workspace<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for Workspace<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Workspace").field("capacity", &N).finish()
    }
}
