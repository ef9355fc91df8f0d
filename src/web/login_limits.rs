//! Throttling of sign-in attempts, and who the client is behind a proxy.
//!
//! Two limits, so that guessing is slow and nobody can lock someone else out:
//! - every address gets a budget of attempts a minute, whatever the account;
//! - failures are counted per account *and* address: after a few, that pair
//!   waits, longer with each further failure (1 s, 2 s, 4 s … up to 15 min).
//!   A stranger failing from elsewhere does not touch the real user's pair, and a
//!   success clears it.
//!
//! IPv6 clients are counted per /64 (one household or office gets one), so
//! changing the low bits of an address does not buy a fresh budget.
//!
//! The client is the socket's peer, unless the peer is a trusted proxy
//! (`DIGICON_TRUSTED_PROXIES`): then it is the last address in `X-Forwarded-For`
//! that is not itself a trusted proxy.
//!
//! The counts live in each instance's memory: with N instances behind a load
//! balancer, an address gets up to N budgets (round-robin) or one (sticky by
//! address). That bounds guessing by N; it never locks anyone out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

/// Failures of one account from one address before it has to wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait between attempts on one account from one address.
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);
/// Pairs kept before idle ones are forgotten.
const MAX_PAIRS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// No attempt before this.
    wait_until: Instant,
}

pub struct LoginLimits {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    failures: Mutex<HashMap<(String, IpAddr), Failures>>,
    clock: DefaultClock,
}

/// An address as the limits count it: IPv6 by its /64.
fn counted(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

impl LoginLimits {
    pub fn new(per_address_per_minute: u32) -> LoginLimits {
        let quota =
            Quota::per_minute(NonZeroU32::new(per_address_per_minute).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            per_address: RateLimiter::keyed(quota),
            failures: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds)` to wait before this attempt may be made.
    pub fn check(&self, account: &str, address: IpAddr) -> Result<(), u64> {
        let address = counted(address);
        if self.per_address.len() > MAX_PAIRS {
            self.per_address.retain_recent();
        }
        self.per_address
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()).as_secs().max(1))?;
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&(account.to_string(), address)) {
            Some(f) if f.wait_until > Instant::now() => {
                Err((f.wait_until - Instant::now()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Records how an attempt went: a success forgets the pair's failures.
    pub fn record(&self, account: &str, address: IpAddr, succeeded: bool) {
        let key = (account.to_string(), counted(address));
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if succeeded {
            failures.remove(&key);
            return;
        }
        let now = Instant::now();
        if failures.len() > MAX_PAIRS {
            // Forget pairs that may try again anyway.
            failures.retain(|_, f| f.wait_until > now);
        }
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            wait_until: now,
        });
        entry.count += 1;
        if entry.count >= FREE_FAILURES {
            let doublings = (entry.count - FREE_FAILURES).min(20);
            let wait = Duration::from_secs(1u64 << doublings).min(LONGEST_WAIT);
            entry.wait_until = now + wait;
        }
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind any trusted proxies: walking `X-Forwarded-For` from the
    /// right, the first address that is not a trusted proxy.
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for.unwrap_or_default().rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(address) => {
                    client = address;
                    if !self.trusts(address) {
                        break;
                    }
                }
                // A hop we cannot read: trust nothing further left of it.
                Err(_) => break,
            }
        }
        client
    }

    /// The client of a request.
    pub fn client_of(&self, req: &HttpRequest) -> IpAddr {
        let peer = req
            .peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        self.client(peer, forwarded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn a_stranger_failing_from_elsewhere_does_not_lock_the_user_out() {
        let limits = LoginLimits::new(1_000);
        for _ in 0..50 {
            limits.record("tanaka@city.jp", ip("203.0.113.9"), false);
        }
        assert!(limits.check("tanaka@city.jp", ip("203.0.113.9")).is_err());
        assert!(limits.check("tanaka@city.jp", ip("10.20.30.40")).is_ok());
    }

    #[test]
    fn failures_back_off_and_a_success_forgets_them() {
        let limits = LoginLimits::new(1_000);
        let (who, from) = ("sato@city.jp", ip("10.0.0.1"));
        for _ in 0..FREE_FAILURES - 1 {
            limits.record(who, from, false);
            assert!(limits.check(who, from).is_ok(), "a few mistakes are free");
        }
        limits.record(who, from, false);
        assert!(limits.check(who, from).is_err(), "then the pair waits");
        limits.record(who, from, true);
        assert!(limits.check(who, from).is_ok());
    }

    #[test]
    fn an_address_has_a_budget_a_minute_and_ipv6_counts_per_64() {
        let limits = LoginLimits::new(2);
        assert!(limits.check("a@x", ip("2001:db8:1:2::1")).is_ok());
        assert!(limits.check("b@x", ip("2001:db8:1:2::ffff")).is_ok());
        assert!(limits.check("c@x", ip("2001:db8:1:2:aaaa::5")).is_err());
        assert!(limits.check("c@x", ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(
            crate::settings::parse_networks("10.0.0.5, 10.1.0.0/16").expect("valid"),
        );
        let chain = Some("198.51.100.7, 10.1.2.3");
        assert_eq!(proxies.client(ip("10.0.0.5"), chain), ip("198.51.100.7"));
        assert_eq!(
            proxies.client(ip("203.0.113.1"), chain),
            ip("203.0.113.1"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(
            proxies.client(ip("10.0.0.5"), Some("garbage, 198.51.100.7")),
            ip("198.51.100.7")
        );
        assert_eq!(proxies.client(ip("10.0.0.5"), None), ip("10.0.0.5"));
        assert!(crate::settings::parse_networks("10.0.0.0/33").is_err());
        assert!(TrustedProxies::default().client(ip("10.0.0.5"), chain) == ip("10.0.0.5"));
    }
}
