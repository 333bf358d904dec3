//! gmvae trainer: trains, calibrates, evaluates, attacks and exports Gaussian-mixture VAE
//! classifiers that reject what they do not recognise (Ghosh et al., AAAI 2019).
//!
//! Every capability is a function over plain config structs that returns a typed error
//! ([`Error`], or the area's own: [`train::TrainError`], [`calibrate::CalibrationError`],
//! [`export::ExportError`], [`attack::AttackError`], [`reclassify::ReclassifyError`], …) and
//! reports long work to a [`progress::Progress`] observer; results come back as values, and
//! writing them to files is a separate call. The `gmvae` binary is a thin front end over it.
//!
//! | step | call |
//! |---|---|
//! | load a dataset | [`data::load`] |
//! | train and calibrate (checkpoint and resume optional) | [`train::train_and_calibrate`] over a [`train::TrainConfig`] |
//! | calibrate a checkpoint | [`train::fit::calibrate_checkpoint`] |
//! | model file bytes, save, load | [`export::to_bytes`], [`trained::TrainedModel::save`], [`trained::TrainedModel::load`] |
//! | read PNG files and IDX entries as model inputs | [`input::InputLoader`] |
//! | Table 1's row, confusion matrices, risk–coverage curves | [`eval::evaluate`] |
//! | the paper's Figure 2 | [`plot::figures::figures`] |
//! | attacks (FGSM, PGD, MIM, adaptive, Eq. 10, Eq. 11) | [`attack::suite`] |
//! | reclassification, Table 2 | [`reclassify::experiment`] |
//!
//! `examples/library_tour.rs` runs the whole pipeline this way, with no files.

pub mod atomic;
pub mod attack;
pub mod calibrate;
pub mod checksum;
pub mod chi_square;
pub mod choice;
pub mod data;
mod error;
pub use error::{Error, Result};
pub mod eval;
pub mod export;
pub mod golden;
pub mod infer;
pub mod input;
pub mod linalg;
pub mod model;
pub mod plot;
pub mod progress;
pub mod reclassify;
pub mod train;
pub mod trained;
