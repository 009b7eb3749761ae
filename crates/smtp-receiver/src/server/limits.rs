//! Connection limits: sessions in total and per client (an IPv4 address or
//! an IPv6 /64).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts live sessions; hands out a [`Permit`] per session within the limits.
#[derive(Debug)]
pub(crate) struct Tracker {
    counts: Mutex<Counts>,
    idle: Notify,
    max_total: usize,
    max_per_ip: usize,
}

/// A live session's place in the [`Tracker`]; released on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    tracker: Arc<Tracker>,
    ip: IpAddr,
}

impl Tracker {
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Arc<Tracker> {
        Arc::new(Tracker {
            counts: Mutex::default(),
            idle: Notify::new(),
            max_total,
            max_per_ip,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // A panic while holding this lock cannot leave the counts torn
        // (each update is one statement), so a poisoned lock is still usable.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A permit for a session from `ip`, or `None` beyond a limit.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let ip = client_key(ip);
        let mut counts = self.lock();
        let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if counts.total >= self.max_total || from_ip >= self.max_per_ip {
            return None;
        }
        counts.total += 1;
        counts.per_ip.insert(ip, from_ip + 1);
        Some(Permit {
            tracker: Arc::clone(self),
            ip,
        })
    }

    /// Live sessions.
    pub(crate) fn active(&self) -> usize {
        self.lock().total
    }

    /// Waits until no session is live.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.active() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// The "client" a per-IP limit counts: an IPv4 address (also when it comes
/// IPv4-mapped), or an IPv6 /64. One IPv6 host or site is normally given a
/// whole /64 (RFC 4291 §2.5.4, RFC 7934 §6) and can pick any address in it,
/// so counting single addresses would not limit anyone.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from_bits(
                v6.to_bits() & !u128::from(u64::MAX),
            )),
        },
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = self.tracker.lock();
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
        let idle = counts.total == 0;
        drop(counts);
        if idle {
            self.tracker.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_total_and_per_ip() {
        let tracker = Tracker::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let p1 = tracker.try_acquire(a).unwrap();
        let _p2 = tracker.try_acquire(a).unwrap();
        assert!(tracker.try_acquire(a).is_none(), "per-IP limit");
        let _p3 = tracker.try_acquire(b).unwrap();
        assert!(tracker.try_acquire(b).is_none(), "total limit");
        drop(p1);
        assert!(tracker.try_acquire(b).is_some());
    }

    /// One IPv6 client usually holds a whole /64 (RFC 4291 §2.5.4, RFC 7934):
    /// counting single addresses would let it open 2^64 sessions.
    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let tracker = Tracker::new(100, 2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:2:abcd:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _pa = tracker.try_acquire(a).unwrap();
        let pb = tracker.try_acquire(b).unwrap();
        assert!(tracker.try_acquire(c).is_none(), "same /64");
        let _po = tracker.try_acquire(other).unwrap();
        drop(pb);
        assert!(tracker.try_acquire(c).is_some());
        // IPv4-mapped addresses count as their IPv4 address.
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let _p4 = tracker.try_acquire(v4).unwrap();
        let _pm = tracker.try_acquire(mapped).unwrap();
        assert!(tracker.try_acquire(v4).is_none());
    }
}
