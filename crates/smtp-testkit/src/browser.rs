//! Headless Chromium for tests of pages: Debian's `chromium` (or
//! `$CHROMIUM`) driven through `node` by npm `playwright-core`, which
//! `.ci/install-peers` puts in the git-ignored `.peers/node`.
//!
//! ```no_run
//! use smtp_testkit::browser::Browser;
//! # fn main() -> std::io::Result<()> {
//! let browser = match Browser::find() {
//!     Ok(browser) => browser,
//!     Err(missing) => {
//!         eprintln!("skipped: {missing}");
//!         return Ok(());
//!     }
//! };
//! let out = browser.node().args(["-e", "console.log(1)"]).output()?;
//! # Ok(())
//! # }
//! ```

use std::path::PathBuf;
use std::process::Command;

use crate::bins::workspace_root;

/// What a browser test needs, all found.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The Chromium executable.
    pub chromium: PathBuf,
    /// The `playwright-core` package folder.
    pub playwright: PathBuf,
}

impl Browser {
    /// Chromium, node and playwright-core; otherwise what is missing, in a
    /// sentence a test prints after `skipped: `.
    pub fn find() -> Result<Browser, String> {
        let chromium = [
            std::env::var_os("CHROMIUM").map(PathBuf::from),
            Some(PathBuf::from("/usr/bin/chromium")),
        ]
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .ok_or("chromium not installed (run .ci/install-peers)")?;
        if Command::new("node").arg("--version").output().is_err() {
            return Err("node not installed (run .ci/install-peers)".into());
        }
        let playwright = workspace_root().join(".peers/node/node_modules/playwright-core");
        if !playwright.join("package.json").is_file() {
            return Err("playwright-core (npm) not installed (run .ci/install-peers)".into());
        }
        // `require` wants the real path (.peers may be a symbolic link).
        let playwright = playwright.canonicalize().unwrap_or(playwright);
        Ok(Browser {
            chromium,
            playwright,
        })
    }

    /// `node`, with `PLAYWRIGHT` (the package, for `require`) and
    /// `CHROMIUM` (the executable) in its environment.
    pub fn node(&self) -> Command {
        let mut node = Command::new("node");
        node.env("PLAYWRIGHT", &self.playwright)
            .env("CHROMIUM", &self.chromium);
        node
    }
}
