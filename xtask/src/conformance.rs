//! `cargo xtask conformance`: conformance matrix (issue 9).

/// Options of `cargo xtask conformance`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the task.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
