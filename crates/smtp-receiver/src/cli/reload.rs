//! SIGHUP: read the certificates, the users and the rules again, without
//! stopping the listeners or dropping a session. A step that fails keeps
//! what is in use and says why on stderr (a half-written certificate never
//! leaves the server without one).

use tokio::signal::unix::{SignalKind, signal};

type Step = Box<dyn Fn() -> anyhow::Result<()> + Send + Sync>;

/// What SIGHUP reads again, step by step.
#[derive(Default)]
pub struct Reload {
    steps: Vec<(&'static str, Step)>,
}

impl Reload {
    /// Adds a step: `what` names it in the messages.
    pub fn add(
        &mut self,
        what: &'static str,
        step: impl Fn() -> anyhow::Result<()> + Send + Sync + 'static,
    ) {
        self.steps.push((what, Box::new(step)));
    }

    /// Runs every step, each on its own: one failure does not stop the others.
    pub fn run(&self) {
        for (what, step) in &self.steps {
            match step() {
                Ok(()) => eprintln!("smtp-receive: reloaded {what}"),
                Err(error) => {
                    eprintln!("smtp-receive: cannot reload {what} ({error:#}); the old ones stay")
                }
            }
        }
    }

    /// Reloads at each SIGHUP until the task is aborted.
    pub fn spawn_on_sighup(self) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let mut hangups = signal(SignalKind::hangup())
            .map_err(|e| anyhow::anyhow!("cannot install a SIGHUP handler: {e}"))?;
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                eprintln!("smtp-receive: SIGHUP");
                self.run();
            }
        }))
    }
}
