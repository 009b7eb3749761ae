//! Samples, medians and spreads, and the alternating rounds every
//! comparison runs in (A B A B ...: a machine that gets busier or quieter
//! during the run affects both sides alike).

use crate::error::{Context as _, Result};

/// The samples of one contender in one comparison.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// One value per round, in run order.
    pub samples: Vec<f64>,
}

impl Stats {
    /// The median (the mean of the two middle values for an even count).
    pub fn median(&self) -> f64 {
        let mut v = self.sorted();
        let n = v.len();
        match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => v[n / 2],
            _ => {
                let high = v.swap_remove(n / 2);
                (v[n / 2 - 1] + high) / 2.0
            }
        }
    }

    /// The smallest sample.
    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    /// The largest sample.
    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.samples.clone();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// One contender: a name and one measurement (a higher value is better
/// unless the caller says otherwise).
pub struct Contender<'a> {
    /// Shown in progress lines.
    pub name: String,
    /// Runs one measurement.
    pub run: Box<dyn FnMut() -> Result<f64> + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender.
    pub fn new(name: impl Into<String>, run: impl FnMut() -> Result<f64> + 'a) -> Contender<'a> {
        Contender {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// Runs every contender once per round, in turn, for `rounds` rounds, and
/// returns their samples in the same order. Fails on the first failed
/// measurement (a benchmark that lost messages has no figure).
pub fn alternate(
    label: &str,
    rounds: usize,
    contenders: &mut [Contender<'_>],
) -> Result<Vec<Stats>> {
    let mut stats = vec![Stats::default(); contenders.len()];
    for round in 1..=rounds {
        for (contender, stats) in contenders.iter_mut().zip(&mut stats) {
            let value = (contender.run)()
                .context_with(|| format!("{label}: {} (round {round})", contender.name))?;
            println!(
                "  {label} | {:<34} round {round}: {}",
                contender.name,
                human(value)
            );
            stats.samples.push(value);
        }
    }
    Ok(stats)
}

/// A figure with thousands separators and a sensible number of decimals.
pub fn human(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let decimals = match value.abs() {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    let text = format!("{value:.decimals$}");
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A count with thousands separators and no decimals (`1,000`, `5`).
pub fn whole(n: u64) -> String {
    // Exact as a float up to 2^53; counts here are far below.
    if n < 100 {
        return n.to_string();
    }
    human(n as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_spreads() {
        let s = Stats {
            samples: vec![3.0, 1.0, 2.0],
        };
        assert_eq!((s.median(), s.min(), s.max()), (2.0, 1.0, 3.0));
        let s = Stats {
            samples: vec![4.0, 1.0, 2.0, 3.0],
        };
        assert_eq!(s.median(), 2.5);
        assert!(Stats::default().median().is_nan());
    }

    #[test]
    fn human_figures() {
        assert_eq!(human(12345.6), "12,346");
        assert_eq!(human(999.0), "999");
        assert_eq!(human(1234567.0), "1,234,567");
        assert_eq!(human(12.34), "12.3");
        assert_eq!(human(1.234), "1.23");
        assert_eq!(human(-4321.0), "-4,321");
        assert_eq!(whole(5), "5");
        assert_eq!(whole(1000), "1,000");
    }

    #[test]
    fn rounds_alternate() {
        let order = std::cell::RefCell::new(Vec::new());
        let mut contenders = [
            Contender::new("a", || {
                order.borrow_mut().push('a');
                Ok(1.0)
            }),
            Contender::new("b", || {
                order.borrow_mut().push('b');
                Ok(2.0)
            }),
        ];
        let stats = alternate("t", 3, &mut contenders).unwrap();
        drop(contenders);
        assert_eq!(order.into_inner(), ['a', 'b', 'a', 'b', 'a', 'b']);
        assert_eq!(stats[1].samples, [2.0, 2.0, 2.0]);
    }
}
