//! The goals of issue 8: which figures the project promised, and whether
//! this run met them (printed after every run, tabled in the report).

use std::fmt::Write as _;

use crate::stats::{Stats, human};
use crate::{Comparison, Results};

/// Ours / peer, from the medians.
pub fn ratio(ours: &Stats, peer: &Stats) -> f64 {
    ours.median() / peer.median()
}

/// One goal of issue 8 and whether this run met it.
pub struct Goal {
    /// What was promised.
    pub goal: String,
    /// What this run measured.
    pub measured: String,
    /// Whether it was kept.
    pub met: bool,
}

/// Every goal whose figures this run has.
pub fn goals(results: &Results) -> Vec<Goal> {
    let comparison = |key: &str| results.comparisons.iter().find(|c| c.key == key);
    let figure = |key: &str| results.figures.iter().find(|f| f.key == key);
    let peer_ratio = |c: &Comparison, name: &str| {
        c.peers
            .iter()
            .find(|(n, _)| n.contains(name))
            .map(|(_, s)| ratio(&c.ours.1, s))
    };
    let mut goals = Vec::new();
    let mut ratio_goal = |key: &str, peer: &str, goal: &'static str, at_least: f64| {
        if let Some(r) = comparison(key).and_then(|c| peer_ratio(c, peer)) {
            goals.push(Goal {
                goal: goal.into(),
                measured: format!("{r:.2}×"),
                met: r >= at_least,
            });
        }
    };
    ratio_goal(
        "sink-reuse",
        "smtp-sink",
        "receiver --sink ≥ 1.0× smtp-sink, one connection per session",
        1.0,
    );
    ratio_goal(
        "sink-new",
        "smtp-sink",
        "receiver --sink ≥ 1.0× smtp-sink, new connection per message",
        1.0,
    );
    ratio_goal("sender", "smtp-source", "smtp-send ≥ 1.0× smtp-source", 1.0);
    ratio_goal(
        "maildir",
        "Postfix",
        "Maildir with fsync ≥ 2× Postfix into Maildir",
        2.0,
    );
    ratio_goal(
        "outbound",
        "Postfix",
        "outbound: spool to smtp-sink ≥ 2× Postfix's queue",
        2.0,
    );
    if let Some(c) = comparison("inbox-ingest") {
        let rate = c.ours.1.median();
        goals.push(Goal {
            goal: "inbox: ingest with index and fsync ≥ 2,000 msgs/s (Mailpit documents 70–100)"
                .into(),
            measured: format!("{} msgs/s", human(rate)),
            met: rate >= 2000.0,
        });
    }
    if let Some(c) = comparison("tls-big") {
        let mb = c.ours.1.median();
        goals.push(Goal {
            goal: format!("{} over TLS ≥ 1 GB/s", c.case),
            measured: format!("{} MB/s", human(mb)),
            met: mb >= 1000.0,
        });
    }
    let mut figure_goal = |key: &str, goal: &'static str, limit: f64, unit: &str| {
        if let Some(f) = figure(key) {
            let v = f.stats.max();
            goals.push(Goal {
                goal: goal.into(),
                measured: format!("{} {unit}", human(v)),
                met: v <= limit,
            });
        }
    };
    figure_goal("idle-plain", "≤ 32 KiB per idle plain session", 32.0, "KiB");
    figure_goal("idle-tls", "≤ 64 KiB per idle TLS session", 64.0, "KiB");
    figure_goal(
        "peak-tls",
        "peak < 64 MiB receiving the big message (TLS, sink)",
        64.0,
        "MiB",
    );
    figure_goal(
        "inbox-page-p99",
        "inbox: first page p99 < 50 ms (100,000 stored)",
        50.0,
        "ms",
    );
    figure_goal(
        "inbox-search-p99",
        "inbox: subject: search p99 < 50 ms (100,000 stored)",
        50.0,
        "ms",
    );
    figure_goal(
        "inbox-startup",
        "inbox: start-up with an existing index < 2 s",
        2.0,
        "s",
    );
    figure_goal(
        "inbox-rss",
        "inbox: resident memory < 200 MiB (100,000 stored)",
        200.0,
        "MiB",
    );
    figure_goal(
        "outbound-memory-ratio",
        "outbound: runner memory flat in the spool's size (N vs N/4: ≤ 1.5×)",
        1.5,
        "×",
    );
    figure_goal(
        "peak-maildir",
        "peak < 64 MiB storing the big message (Maildir)",
        64.0,
        "MiB",
    );
    goals
}

/// The goals as plain text, for the terminal.
pub fn goals_text(results: &Results, quick: bool) -> String {
    let mut out = String::from(if quick {
        "\ngoals (--quick: counts too small to judge them):\n"
    } else {
        "\ngoals:\n"
    });
    for g in goals(results) {
        let _ = writeln!(
            out,
            "  [{}] {}: {}",
            if g.met { "met" } else { "NOT met" },
            g.goal,
            g.measured
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Figure;

    fn stats(samples: &[f64]) -> Stats {
        Stats {
            samples: samples.to_vec(),
        }
    }

    #[test]
    fn goals_are_judged_from_medians_and_maxima() {
        let mut results = Results::default();
        results.comparisons.push(Comparison::two(
            "sink-reuse",
            "1. Receiver, no storage",
            "case".into(),
            "msgs/s",
            ("smtp-receive --sink", &stats(&[2.0, 3.0, 1.0])),
            ("Postfix smtp-sink", &stats(&[4.0])),
            Vec::new(),
        ));
        results.figures.push(Figure {
            key: "idle-plain",
            what: "per idle session".into(),
            unit: "KiB",
            stats: stats(&[10.0, 40.0]),
        });
        let goals = goals(&results);
        assert_eq!(goals.len(), 2, "only the goals this run has figures for");
        assert_eq!(goals[0].measured, "0.50×");
        assert!(!goals[0].met);
        assert_eq!(goals[1].measured, "40.0 KiB");
        assert!(!goals[1].met, "the largest sample counts");
        assert!(goals_text(&results, false).contains("[NOT met] ≤ 32 KiB"));
    }
}
