//! smtp-send
fn main() {}
