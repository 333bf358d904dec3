//! The Gaussian-mixture VAE: sizes, parameters and the dfdx forward pass.

pub mod config;
pub mod fused;
pub mod indices;
pub mod network;
pub mod params;

pub use config::{ConfigError, ModelConfig, Preset};
pub use network::Network;
pub use params::Params;
