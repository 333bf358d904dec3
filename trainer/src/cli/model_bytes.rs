//! Reading a model file for the runtime-backed commands (`inspect`, `classify`,
//! `bench classify`), with one-line errors that name the format reader's verdict.

use anyhow::{anyhow, Context, Result};
use gmvae_format::{FormatError, ModelView};
use gmvae_runtime::{Error as RuntimeError, Model};
use std::path::Path;

/// Reads the model file at `path`, never more than its declared (and capped) length.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    Ok(gmvae_trainer::export::read_model_bytes(path)?)
}

/// Validates `bytes` with the format reader; the error names the [`FormatError`] variant.
pub fn view<'a>(path: &Path, bytes: &'a [u8]) -> Result<ModelView<'a>> {
    ModelView::parse(bytes).map_err(|e| format_error(path, &e))
}

/// Validates `bytes` as the runtime does (the format reader, then the runtime's limits), and
/// refuses a model whose workspace would be more than the tools allocate.
pub fn runtime_model<'a>(path: &Path, bytes: &'a [u8]) -> Result<Model<'a>> {
    let model = Model::from_view(view(path, bytes)?).map_err(|e| runtime_error(path, &e))?;
    gmvae_trainer::reclassify::engine::lockstep_workspace(&model)
        .with_context(|| format!("{} cannot run in this tool", path.display()))?;
    Ok(model)
}

/// `PATH is not a valid gmvae model: <description> [Variant]`.
pub fn format_error(path: &Path, e: &FormatError) -> anyhow::Error {
    anyhow!(
        "{} is not a valid gmvae model: {e} [FormatError::{}]",
        path.display(),
        variant_name(e)
    )
}

/// A runtime refusal of a model that the format reader accepted.
fn runtime_error(path: &Path, e: &RuntimeError) -> anyhow::Error {
    match e {
        RuntimeError::Format(f) => format_error(path, f),
        other => anyhow!(
            "{} cannot run on gmvae-runtime: {other} [runtime::Error::{}]",
            path.display(),
            variant_name(other)
        ),
    }
}

/// The enum variant's name: its `Debug` text up to the first field.
fn variant_name(e: &impl std::fmt::Debug) -> String {
    let text = format!("{e:?}");
    text.split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_variant() {
        let e = format_error(Path::new("m.gmvae"), &FormatError::BadMagic).to_string();
        assert!(e.starts_with("m.gmvae is not a valid gmvae model: "), "{e}");
        assert!(e.ends_with("[FormatError::BadMagic]"), "{e}");
        let e = FormatError::ChecksumMismatch {
            stored: 1,
            computed: 2,
        };
        assert_eq!(variant_name(&e), "ChecksumMismatch");
        assert!(view(Path::new("x"), b"short").is_err());
    }
}
