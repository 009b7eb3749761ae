//! Connection limits: sessions in total and per client (an IPv4 address or
//! an IPv6 /64, trusted networks exempt), the stress signal when most
//! slots are taken, and the total the process can hold.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, watch};

use crate::network::Cidr;

/// Stress begins when this share (in percent) of the total slots is taken:
/// early enough that idle and trickling sessions are cut (their deadlines
/// drop to seconds) before new clients are refused.
const STRESS_ON_PERCENT: usize = 80;
/// Stress ends when the load falls below this share: the gap keeps a load
/// that hovers at the threshold from flipping every session's deadlines
/// at each connection.
const STRESS_OFF_PERCENT: usize = 60;

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Counts live sessions; hands out a [`Permit`] per session within the
/// limits; says when the server is under stress.
#[derive(Debug)]
pub(crate) struct Tracker {
    counts: Mutex<Counts>,
    idle: Notify,
    max_total: usize,
    max_per_ip: usize,
    trusted: Vec<Cidr>,
    stress: watch::Sender<bool>,
}

/// A live session's place in the [`Tracker`]; released on drop.
#[derive(Debug)]
pub(crate) struct Permit {
    tracker: Arc<Tracker>,
    /// The client key counted against the per-client limit (`None`: a
    /// trusted network, not counted).
    ip: Option<IpAddr>,
}

impl Tracker {
    pub(crate) fn new(max_total: usize, max_per_ip: usize, trusted: Vec<Cidr>) -> Arc<Tracker> {
        Arc::new(Tracker {
            counts: Mutex::default(),
            idle: Notify::new(),
            max_total,
            max_per_ip,
            trusted,
            stress: watch::Sender::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // A panic while holding this lock cannot leave the counts torn
        // (each update is one statement), so a poisoned lock is still usable.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True when `ip` is in a trusted network (no per-client limits).
    pub(crate) fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(ip))
    }

    /// A permit for a session from `ip`, or `None` beyond a limit. Trusted
    /// clients count towards the total only (Postfix exempts `$mynetworks`
    /// from its per-client limits, not from its process limit).
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        let key = (!self.is_trusted(ip)).then(|| client_key(ip));
        let mut counts = self.lock();
        let from_ip = key.map_or(0, |key| counts.per_ip.get(&key).copied().unwrap_or(0));
        if counts.total >= self.max_total || from_ip >= self.max_per_ip {
            return None;
        }
        counts.total += 1;
        if let Some(key) = key {
            counts.per_ip.insert(key, from_ip + 1);
        }
        self.update_stress(counts.total);
        Some(Permit {
            tracker: Arc::clone(self),
            ip: key,
        })
    }

    /// Live sessions.
    pub(crate) fn active(&self) -> usize {
        self.lock().total
    }

    /// Follows the stress signal (true while most slots are taken).
    pub(crate) fn stress(&self) -> watch::Receiver<bool> {
        self.stress.subscribe()
    }

    fn update_stress(&self, total: usize) {
        let percent = total.saturating_mul(100) / self.max_total.max(1);
        self.stress.send_if_modified(|stress| {
            let now = if *stress {
                percent >= STRESS_OFF_PERCENT
            } else {
                percent >= STRESS_ON_PERCENT
            };
            if now != *stress {
                tracing::warn!(
                    sessions = total,
                    limit = self.max_total,
                    "{}",
                    if now {
                        "under stress: most session slots are taken; deadlines shortened"
                    } else {
                        "stress over: deadlines back to normal"
                    }
                );
            }
            std::mem::replace(stress, now) != now
        });
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
        if let Some(ip) = self.ip
            && let Some(n) = counts.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&ip);
            }
        }
        self.tracker.update_stress(counts.total);
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
        let tracker = Tracker::new(3, 2, Vec::new());
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
        let tracker = Tracker::new(100, 2, Vec::new());
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

    #[test]
    fn trusted_networks_count_towards_the_total_only() {
        let tracker = Tracker::new(3, 1, Cidr::loopback());
        let local: IpAddr = "127.0.0.9".parse().unwrap();
        let remote: IpAddr = "192.0.2.1".parse().unwrap();
        let _l1 = tracker.try_acquire(local).unwrap();
        let _l2 = tracker.try_acquire(local).unwrap();
        let _r = tracker.try_acquire(remote).unwrap();
        assert!(tracker.try_acquire(local).is_none(), "total limit");
        let untrusted = Tracker::new(3, 1, Vec::new());
        let _u = untrusted.try_acquire(local).unwrap();
        assert!(untrusted.try_acquire(local).is_none(), "per-IP limit");
    }

    #[test]
    fn stress_begins_at_80_percent_and_ends_below_60() {
        let tracker = Tracker::new(10, 10, Vec::new());
        let stress = tracker.stress();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut permits: Vec<Permit> = (0..7).map(|_| tracker.try_acquire(ip).unwrap()).collect();
        assert!(!*stress.borrow());
        permits.push(tracker.try_acquire(ip).unwrap());
        assert!(*stress.borrow(), "8 of 10");
        permits.truncate(6);
        assert!(*stress.borrow(), "6 of 10: still");
        permits.truncate(5);
        assert!(!*stress.borrow(), "5 of 10: over");
    }
}
