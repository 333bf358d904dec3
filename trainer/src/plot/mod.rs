//! Pictures: SVG line charts and heat maps, PNG image grids.

pub mod figures;
pub mod grid;
pub mod svg;
