//! [`Model`]: a parsed model and its classification entry points.

use gmvae_format::{Architecture, Calibration, ModelView, TensorId};

use crate::error::Error;
use crate::forward::Sink;
use crate::kernels::dense_forward::MAX_INPUTS;
use crate::kernels::mahalanobis::mahalanobis_sq;
use crate::kernels::nearest_mean::nearest_mean;
use crate::kernels::reconstruction_error::reconstruction_error;
use crate::layout::Layout;
use crate::workspace::{take, WorkspaceSizes};
use crate::{Decision, Isa, Latent, Thresholds, Verdict, MAX_LATENT};

/// A validated model borrowed from its file bytes.
///
/// Every check happens once in [`Model::parse`]; afterwards the model is immutable, `Copy`,
/// and no method panics. Inference needs no heap: each call takes a caller-owned workspace,
/// any `&mut [f32]` (a [`crate::Workspace`], a `Vec<f32>`, a `static` array) of at least the
/// `f32`s [`Model::workspace_sizes`] gives.
#[derive(Clone, Copy)]
pub struct Model<'a> {
    view: ModelView<'a>,
    layout: Layout,
    /// The instructions the kernels run on: [`Isa::detect`], or lower ([`Model::limit_isa`]).
    isa: Isa,
}

impl core::fmt::Debug for Model<'_> {
    /// Sizes and thresholds only (the file bytes are not printed).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Model")
            .field("architecture", &self.view.architecture())
            .field("thresholds", &self.thresholds())
            .field("workspace_sizes", &self.workspace_sizes())
            .field("isa", &self.isa)
            .finish_non_exhaustive()
    }
}

impl<'a> Model<'a> {
    /// Parses and validates a model file (see `gmvae_format::ModelView::parse`) and checks
    /// the runtime's own limits.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::from_view(ModelView::parse(bytes)?)
    }

    /// Wraps an already parsed view, checking the runtime's own limits: latent dimension at
    /// most [`MAX_LATENT`], and every size addressable on this target.
    pub fn from_view(view: ModelView<'a>) -> Result<Self, Error> {
        let a = view.architecture();
        if a.latent > MAX_LATENT {
            return Err(Error::LatentTooWide {
                latent: a.latent,
                max: MAX_LATENT,
            });
        }
        let layout = Layout::new(&a).ok_or(Error::ModelTooLarge)?;
        let d = &layout.dims;
        if d.flat > MAX_INPUTS || d.hidden > MAX_INPUTS || d.latent > MAX_INPUTS {
            return Err(Error::ModelTooLarge);
        }
        // The reader guarantees these shapes; re-checking them keeps every later kernel
        // call's length checks a formality.
        for id in TensorId::ALL {
            if view.tensor(id).len() != id.shape(&a).len() {
                return Err(Error::Internal);
            }
        }
        if d.classes == 0
            || Some(view.class_means().len()) != d.classes.checked_mul(d.latent)
            || Some(view.precisions().len())
                != d.classes
                    .checked_mul(d.latent)
                    .and_then(|v| v.checked_mul(d.latent))
        {
            return Err(Error::Internal);
        }
        Ok(Self {
            view,
            layout,
            isa: Isa::detect(),
        })
    }

    /// The instructions this model's kernels run on ([`Isa::detect`] unless limited).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// This model with its kernels limited to `max` (never raised above what the CPU
    /// supports). Every output is the same bits whichever set runs; this is for
    /// measuring, and for checking exactly that.
    pub fn limit_isa(mut self, max: Isa) -> Self {
        self.isa = self.isa.min(max);
        self
    }

    /// The underlying file view (names, calibration settings, raw tensors).
    pub fn view(&self) -> &ModelView<'a> {
        &self.view
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The model's sizes.
    pub fn architecture(&self) -> Architecture {
        self.view.architecture()
    }

    /// The calibration block (encoder variance, covariance model, thresholds, settings).
    pub fn calibration(&self) -> Calibration {
        self.view.calibration()
    }

    /// The rejection thresholds stored in the file.
    pub fn thresholds(&self) -> Thresholds {
        let c = self.view.calibration();
        Thresholds {
            tau_enc: c.tau_enc,
            tau_dec: c.tau_dec,
        }
    }

    /// The name of class `class`, if it exists.
    pub fn class_name(&self, class: usize) -> Option<&'a str> {
        self.view.class_name(class)
    }

    /// Number of values in an input image (`C·H·W`), also the length of a reconstruction.
    pub fn image_len(&self) -> usize {
        self.layout.dims.pixels
    }

    /// How many `f32`s of workspace each call needs: [`WorkspaceSizes::classify`] for
    /// [`Model::classify`], [`Model::encode`] and [`Model::decode_into`],
    /// [`WorkspaceSizes::reclassify`] at least for [`Model::reclassify`] and
    /// [`Model::reconstruction_gradient`] (more lets reclassify run starts in lockstep).
    pub fn workspace_sizes(&self) -> WorkspaceSizes {
        let rc = &self.layout.rc;
        WorkspaceSizes {
            classify: self.layout.classify_len,
            reclassify: rc.len_for(1),
            reclassify_per_start: rc.stride,
            reclassify_lockstep: rc.len_for(self.layout.dims.classes),
        }
    }

    /// Checks an image: length `C·H·W`, every value finite and within `[0, 1]`; the first
    /// offending index is reported.
    pub(crate) fn check_image(&self, image: &[f32]) -> Result<(), Error> {
        let expected = self.image_len();
        if image.len() != expected {
            return Err(Error::ImageLength {
                expected,
                found: image.len(),
            });
        }
        for (index, &v) in image.iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::NonFiniteInput { index });
            }
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::PixelOutOfRange { index });
            }
        }
        Ok(())
    }

    /// Runs the encoder and returns the latent mean `z = f(x)` (as `classify` computes it).
    ///
    /// `ws` is any `&mut [f32]` of at least [`WorkspaceSizes::classify`] values (only those
    /// are used).
    ///
    /// Errors: [`Error::WorkspaceTooSmall`], then the image checks ([`Error::ImageLength`],
    /// [`Error::NonFiniteInput`], [`Error::PixelOutOfRange`]), then
    /// [`Error::NonFiniteOutput`] if `z` is not finite.
    pub fn encode(&self, image: &[f32], ws: &mut [f32]) -> Result<Latent, Error> {
        let ws = take(ws, self.layout.classify_len)?;
        self.check_image(image)?;
        self.encode_ws(image, ws)?;
        self.latent_from(ws)
    }

    fn latent_from(&self, ws: &[f32]) -> Result<Latent, Error> {
        let z = ws.get(self.layout.z.range()).ok_or(Error::Internal)?;
        if !z.iter().all(|v| v.is_finite()) {
            return Err(Error::NonFiniteOutput);
        }
        Latent::from_slice(z).map_err(|()| Error::LatentTooWide {
            latent: z.len(),
            max: MAX_LATENT,
        })
    }

    /// Runs the decoder: writes `g(z)` (`C·H·W` values in `[0, 1]`, layout `[C][H][W]`)
    /// to `out`.
    ///
    /// `ws` as for [`Model::encode`].
    ///
    /// Errors: [`Error::WorkspaceTooSmall`], [`Error::LatentLength`],
    /// [`Error::NonFiniteLatent`], [`Error::OutputLength`].
    pub fn decode_into(&self, z: &[f32], ws: &mut [f32], out: &mut [f32]) -> Result<(), Error> {
        let ws = take(ws, self.layout.classify_len)?;
        let d = &self.layout.dims;
        if z.len() != d.latent {
            return Err(Error::LatentLength {
                expected: d.latent,
                found: z.len(),
            });
        }
        if let Some(index) = z.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteLatent { index });
        }
        if out.len() != d.pixels {
            return Err(Error::OutputLength {
                expected: d.pixels,
                found: out.len(),
            });
        }
        ws.get_mut(self.layout.z.range())
            .ok_or(Error::Internal)?
            .copy_from_slice(z);
        self.decode_ws(ws, Sink::Caller(out))
    }

    /// Classifies an image and applies both rejection thresholds.
    ///
    /// `image` is `[C][H][W]` (channel-major, row-major), values in `[0, 1]`. The label is
    /// the class mean nearest to `z = f(x)` in Euclidean distance (ties to the lowest
    /// index); `mahalanobis_sq` uses that class's precision matrix; `reconstruction_error`
    /// is `Σ (x − g(z))²`. The image is accepted iff `mahalanobis_sq ≤ tau_enc` and
    /// `reconstruction_error ≤ tau_dec`. `ws` is any `&mut [f32]` of at least
    /// [`WorkspaceSizes::classify`] values (only those are used).
    ///
    /// Errors: [`Error::WorkspaceTooSmall`], then the image checks ([`Error::ImageLength`],
    /// [`Error::NonFiniteInput`], [`Error::PixelOutOfRange`]), then
    /// [`Error::NonFiniteOutput`] if the latent code, the distance or the error is not
    /// finite.
    pub fn classify(&self, image: &[f32], ws: &mut [f32]) -> Result<Verdict, Error> {
        let ws = take(ws, self.layout.classify_len)?;
        self.check_image(image)?;
        self.encode_ws(image, ws)?;
        let latent = self.latent_from(ws)?;

        let (label, _) = nearest_mean(&latent, self.view.class_means().words())?;
        let mu = self.view.class_mean(label).ok_or(Error::Internal)?;
        let precision = self.view.precision(label).ok_or(Error::Internal)?;
        let mahalanobis_sq = mahalanobis_sq(&latent, mu.words(), precision.words())?;

        self.decode_ws(ws, Sink::Workspace)?;
        let recon = ws.get(self.layout.recon.range()).ok_or(Error::Internal)?;
        let reconstruction_error = reconstruction_error(image, recon)?;
        if !mahalanobis_sq.is_finite() || !reconstruction_error.is_finite() {
            return Err(Error::NonFiniteOutput);
        }

        let t = self.thresholds();
        let latent_ok = mahalanobis_sq <= t.tau_enc;
        let reconstruction_ok = reconstruction_error <= t.tau_dec;
        let decision = if latent_ok && reconstruction_ok {
            Decision::Accepted
        } else {
            Decision::Rejected {
                latent: !latent_ok,
                reconstruction: !reconstruction_ok,
            }
        };
        Ok(Verdict {
            label,
            latent,
            mahalanobis_sq,
            reconstruction_error,
            decision,
        })
    }
}
