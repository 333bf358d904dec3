//! Evaluation: Table 1's columns, confusion matrices and risk–coverage curves.

pub mod metrics;
pub mod report;
