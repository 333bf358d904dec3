//! Caller-owned scratch memory: any `&mut [f32]`, a fixed-size [`Workspace`], and the sizes
//! a model needs ([`WorkspaceSizes`]).

/// How many `f32`s of workspace a model's calls need ([`crate::Model::workspace_sizes`]).
///
/// Every entry point takes its workspace as a `&mut [f32]` — a [`Workspace`], a `Vec<f32>`
/// on a host, a `static` array in firmware — and uses its first `f32`s only. A shorter one is
/// [`crate::Error::WorkspaceTooSmall`], never undefined behaviour; the contents between calls
/// are unspecified (every call writes what it reads).
///
/// ```
/// # static MODEL: &[u8] = include_bytes!("../../fixtures/golden/model.gmvae");
/// let model = gmvae_runtime::Model::parse(MODEL)?; // the `edge` preset, ten classes
/// let sizes = model.workspace_sizes();
/// assert_eq!((sizes.classify, sizes.reclassify), (12_700, 20_520));
/// assert_eq!(sizes.reclassify_lockstep, sizes.reclassify + 9 * sizes.reclassify_per_start);
/// assert_eq!(sizes.classify_bytes(), 4 * sizes.classify);
/// let mut ws = vec![0.0f32; sizes.reclassify_lockstep]; // enough for every call
/// # let image = [0.0f32; 28 * 28];
/// let verdict = model.classify(&image, &mut ws)?;
/// # let _ = verdict;
/// # Ok::<(), gmvae_runtime::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WorkspaceSizes {
    /// `f32`s needed by [`crate::Model::classify`], [`crate::Model::encode`] and
    /// [`crate::Model::decode_into`].
    pub classify: usize,
    /// The fewest `f32`s [`crate::Model::reclassify`] and
    /// [`crate::Model::reconstruction_gradient`] need: one start at a time (classify's
    /// regions included, so at least [`WorkspaceSizes::classify`]).
    pub reclassify: usize,
    /// `f32`s each further start takes when [`crate::Model::reclassify`] runs starts in
    /// lockstep: with `reclassify + k · reclassify_per_start` it runs `k + 1` at a time
    /// (faster, the same bits).
    pub reclassify_per_start: usize,
    /// `f32`s with which [`crate::Model::reclassify`] runs every start in lockstep (the
    /// fastest; more is not used): `reclassify + (classes − 1) · reclassify_per_start`.
    pub reclassify_lockstep: usize,
}

impl WorkspaceSizes {
    /// [`WorkspaceSizes::classify`] in bytes.
    pub const fn classify_bytes(&self) -> usize {
        bytes(self.classify)
    }

    /// [`WorkspaceSizes::reclassify`] in bytes.
    pub const fn reclassify_bytes(&self) -> usize {
        bytes(self.reclassify)
    }

    /// [`WorkspaceSizes::reclassify_lockstep`] in bytes.
    pub const fn reclassify_lockstep_bytes(&self) -> usize {
        bytes(self.reclassify_lockstep)
    }
}

/// `f32s` in bytes (cannot overflow for a model's sizes: checked when its layout was built).
const fn bytes(f32s: usize) -> usize {
    f32s.saturating_mul(core::mem::size_of::<f32>())
}

/// The first `needed` `f32`s of a caller's workspace, or the error the public API reports.
pub(crate) fn take(ws: &mut [f32], needed: usize) -> Result<&mut [f32], crate::Error> {
    let available = ws.len();
    ws.get_mut(..needed)
        .ok_or(crate::Error::WorkspaceTooSmall { needed, available })
}

/// A fixed-size workspace of `N` `f32`s, for callers without a heap.
///
/// It dereferences to `[f32]`, so `&mut ws` (also through a `Box` or a lock guard) is what
/// every entry point takes. [`Workspace::new`] is `const`, so a workspace can live in a
/// `static` (behind whatever lock the platform provides) instead of on the stack; `N` comes
/// from [`crate::Model::workspace_sizes`] of the model the build ships:
///
/// ```
/// use gmvae_runtime::Workspace;
/// static WS: std::sync::Mutex<Workspace<4096>> = std::sync::Mutex::new(Workspace::new());
/// assert_eq!(WS.lock().unwrap().capacity(), 4096);
/// ```
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
}

impl<const N: usize> Default for Workspace<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::ops::Deref for Workspace<N> {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.buf
    }
}

impl<const N: usize> core::ops::DerefMut for Workspace<N> {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf
    }
}

impl<const N: usize> AsRef<[f32]> for Workspace<N> {
    fn as_ref(&self) -> &[f32] {
        &self.buf
    }
}

impl<const N: usize> AsMut<[f32]> for Workspace<N> {
    fn as_mut(&mut self) -> &mut [f32] {
        &mut self.buf
    }
}

impl<const N: usize> core::fmt::Debug for Workspace<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Workspace").field("capacity", &N).finish()
    }
}
