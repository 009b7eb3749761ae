//! `cargo xtask interop`: interoperability cases (issue 7).

/// Options of `cargo xtask interop`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the task.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
