//! The `gmvae` command-line tool.

fn main() {}
