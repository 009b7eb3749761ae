//! smtp-receive
fn main() {}
