//! Rate limits on the operations that can be abused: login, registration, invites, password
//! checks, reads and writes. Login guessing is also stopped by the lock-out in `account`.
//!
//! Limits on anonymous callers are keyed by client network (an IPv4 address or an IPv6 /64),
//! never by a login name alone, so that nobody can aim a limit at someone else's account. Maps
//! keyed by what a caller chooses are bounded: once full, new keys share one overflow bucket.

use super::error::{Error, Result};
use super::ids::AccountId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Allowed rates; each is a burst that refills evenly over the period.
#[derive(Debug, Clone, Copy)]
pub struct RateSettings {
    /// Login attempts per client network per minute (also failed CardDAV logins).
    pub logins_per_minute: u32,
    /// Login attempts per minute from everywhere together: password checks are costly.
    pub total_logins_per_minute: u32,
    /// Registrations per client network per hour.
    pub registrations_per_hour: u32,
    /// Invites created per account per hour.
    pub invites_per_hour: u32,
    /// Directory and change reads per account per minute.
    pub reads_per_minute: u32,
    /// Checks of the main password by a logged-in account (account deletion, password
    /// change) per hour.
    pub password_checks_per_hour: u32,
    /// Card writes per account per minute (each may reach every member of every group).
    pub card_writes_per_minute: u32,
    /// Cards fetched by CardDAV multiget and GET per account per minute.
    pub multiget_cards_per_minute: u32,
    /// Stream connections (and reconnections) per account per minute.
    pub stream_connects_per_minute: u32,
    /// Most streams one account may hold open at once.
    pub streams_per_account: u32,
}

impl Default for RateSettings {
    fn default() -> Self {
        RateSettings {
            logins_per_minute: 20,
            total_logins_per_minute: 1200,
            registrations_per_hour: 30,
            invites_per_hour: 100,
            reads_per_minute: 600,
            password_checks_per_hour: 10,
            card_writes_per_minute: 30,
            // A first sync of a 10,000-card book by DAVx5 (10 cards per multiget) fits.
            multiget_cards_per_minute: 12_000,
            stream_connects_per_minute: 30,
            streams_per_account: 20,
        }
    }
}

/// Most distinct client networks tracked per limit; beyond, new ones share one bucket.
const MAX_NETWORKS: usize = 100_000;
/// The shared bucket of client networks beyond [`MAX_NETWORKS`].
const OVERFLOW: &str = "overflow";

/// The key of a client for limits and lock-outs: its IPv4 address, its IPv6 /64 (one
/// subscriber usually holds a whole /64), or `unknown`.
pub fn client_network(client: Option<IpAddr>) -> String {
    match client.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "unknown".into(),
    }
}

pub(crate) struct Limits {
    logins: Networks,
    total_logins: DefaultDirectRateLimiter,
    registrations: Networks,
    invites: DefaultKeyedRateLimiter<AccountId>,
    reads: DefaultKeyedRateLimiter<AccountId>,
    password_checks: DefaultKeyedRateLimiter<AccountId>,
    card_writes: DefaultKeyedRateLimiter<AccountId>,
    multiget_cards: DefaultKeyedRateLimiter<AccountId>,
    stream_connects: DefaultKeyedRateLimiter<AccountId>,
    basic_failures: FailureWindows,
}

/// A limiter keyed by client network, bounded in size.
struct Networks {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Networks {
    fn new(quota: Quota) -> Self {
        Networks {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
        }
    }

    fn check(&self, network: String) -> Result<()> {
        let mut key = network;
        if self.limiter.len() >= MAX_NETWORKS {
            self.limiter.retain_recent();
            if self.limiter.len() >= MAX_NETWORKS {
                key = OVERFLOW.into();
            }
        }
        check(&self.limiter, &key)
    }
}

/// Failed HTTP Basic logins per client network in fixed one-minute windows. Only failures
/// count: a CardDAV client authenticates every request, so counting successes would lock out
/// a phone in the middle of a sync.
struct FailureWindows {
    allowed: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailureWindows {
    fn permitted(&self, key: &str) -> Result<()> {
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = seen
            .get(key)
            .or_else(|| seen.get(OVERFLOW).filter(|_| seen.len() >= MAX_NETWORKS));
        match entry {
            Some((failures, start)) if *failures >= self.allowed && start.elapsed() < self.window => {
                Err(Error::RateLimited {
                    retry_after: self.window.saturating_sub(start.elapsed()),
                })
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, key: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_NETWORKS && !seen.contains_key(key) {
            let window = self.window;
            seen.retain(|_, (_, start)| start.elapsed() < window);
        }
        let key = if seen.len() >= MAX_NETWORKS && !seen.contains_key(key) {
            OVERFLOW
        } else {
            key
        };
        let entry = seen.entry(key.to_string()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 = entry.0.saturating_add(1);
    }

    fn shrink(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, (_, start)| start.elapsed() < self.window);
    }
}

fn quota(per_period: u32, period: Duration) -> Quota {
    let burst = NonZeroU32::new(per_period.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period / burst.get())
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<()> {
    limiter.check_key(key).map_err(|not_until| Error::RateLimited {
        retry_after: not_until.wait_time_from(DefaultClock::default().now()),
    })
}

impl Limits {
    pub(crate) fn new(rates: &RateSettings) -> Self {
        let minute = Duration::from_secs(60);
        let hour = Duration::from_secs(3600);
        Limits {
            logins: Networks::new(quota(rates.logins_per_minute, minute)),
            total_logins: DefaultDirectRateLimiter::direct(quota(rates.total_logins_per_minute, minute)),
            registrations: Networks::new(quota(rates.registrations_per_hour, hour)),
            invites: DefaultKeyedRateLimiter::keyed(quota(rates.invites_per_hour, hour)),
            reads: DefaultKeyedRateLimiter::keyed(quota(rates.reads_per_minute, minute)),
            password_checks: DefaultKeyedRateLimiter::keyed(quota(rates.password_checks_per_hour, hour)),
            card_writes: DefaultKeyedRateLimiter::keyed(quota(rates.card_writes_per_minute, minute)),
            multiget_cards: DefaultKeyedRateLimiter::keyed(quota(rates.multiget_cards_per_minute, minute)),
            stream_connects: DefaultKeyedRateLimiter::keyed(quota(rates.stream_connects_per_minute, minute)),
            basic_failures: FailureWindows {
                allowed: rates.logins_per_minute.max(1),
                window: minute,
                seen: Mutex::new(HashMap::new()),
            },
        }
    }

    /// A login attempt from a client: limited per client network, whatever the login name,
    /// so that nobody can exhaust someone else's attempts; then against the allowance of all
    /// clients together (password checks are costly). The network is checked first, so that
    /// one client cannot spend everyone's allowance.
    pub(crate) fn login(&self, client: Option<IpAddr>) -> Result<()> {
        self.logins.check(client_network(client))?;
        self.total_logins.check().map_err(|not_until| Error::RateLimited {
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
    }

    pub(crate) fn registration(&self, client: Option<IpAddr>) -> Result<()> {
        self.registrations.check(client_network(client))
    }

    pub(crate) fn invite(&self, account: AccountId) -> Result<()> {
        check(&self.invites, &account)
    }

    pub(crate) fn read(&self, account: AccountId) -> Result<()> {
        check(&self.reads, &account)
    }

    /// A logged-in account's check of its main password (deletion, password change).
    pub(crate) fn password_check(&self, account: AccountId) -> Result<()> {
        check(&self.password_checks, &account)
    }

    /// A card write by an account.
    pub(crate) fn card_write(&self, account: AccountId) -> Result<()> {
        check(&self.card_writes, &account)
    }

    /// Cards fetched one by one (CardDAV multiget or GET) by an account.
    pub(crate) fn multiget(&self, account: AccountId, cards: usize) -> Result<()> {
        let Some(n) = u32::try_from(cards).ok().and_then(NonZeroU32::new) else {
            return if cards == 0 {
                Ok(())
            } else {
                Err(Error::RateLimited {
                    retry_after: Duration::from_secs(60),
                })
            };
        };
        match self.multiget_cards.check_key_n(&account, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Error::RateLimited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }),
            // More cards than a whole minute's allowance in one request.
            Err(_) => Err(Error::RateLimited {
                retry_after: Duration::from_secs(60),
            }),
        }
    }

    /// A stream connection (or reconnection) by an account.
    pub(crate) fn stream_connect(&self, account: AccountId) -> Result<()> {
        check(&self.stream_connects, &account)
    }

    /// Refuses HTTP Basic logins from a client network that failed too often lately.
    pub(crate) fn basic_permitted(&self, client: Option<IpAddr>) -> Result<()> {
        self.basic_failures.permitted(&client_network(client))
    }

    /// Counts a failed HTTP Basic login of a client network.
    pub(crate) fn basic_failed(&self, client: Option<IpAddr>) {
        self.basic_failures.failed(&client_network(client));
    }

    /// Forgets keys whose buckets are full again, so memory does not grow with every caller.
    pub(crate) fn shrink(&self) {
        self.logins.limiter.retain_recent();
        self.registrations.limiter.retain_recent();
        self.invites.retain_recent();
        self.reads.retain_recent();
        self.password_checks.retain_recent();
        self.card_writes.retain_recent();
        self.multiget_cards.retain_recent();
        self.stream_connects.retain_recent();
        self.basic_failures.shrink();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn a_burst_is_allowed_then_refused() {
        let limits = Limits::new(&RateSettings {
            logins_per_minute: 3,
            ..RateSettings::default()
        });
        for _ in 0..3 {
            assert!(limits.login(ip("192.0.2.1")).is_ok());
        }
        assert!(matches!(limits.login(ip("192.0.2.1")), Err(Error::RateLimited { .. })));
        assert!(limits.login(ip("192.0.2.2")).is_ok(), "limits are per client");
    }

    #[test]
    fn login_attempts_are_limited_per_client_network_and_in_total() {
        let limits = Limits::new(&RateSettings {
            logins_per_minute: 2,
            total_logins_per_minute: 3,
            ..RateSettings::default()
        });
        let (a, b, c) = (
            Some([10, 0, 0, 1].into()),
            Some([10, 0, 0, 2].into()),
            Some([10, 0, 0, 3].into()),
        );
        assert!(limits.login(a).is_ok());
        assert!(limits.login(a).is_ok());
        assert!(matches!(limits.login(a), Err(Error::RateLimited { .. })));
        assert!(limits.login(b).is_ok(), "a refused network spent none of the total");
        assert!(matches!(limits.login(c), Err(Error::RateLimited { .. })), "total spent");
    }

    #[test]
    fn only_failed_basic_logins_count_and_per_client_network() {
        let limits = Limits::new(&RateSettings {
            logins_per_minute: 2,
            ..RateSettings::default()
        });
        let attacker = ip("2001:db8:1:2:aaaa::1");
        for _ in 0..10 {
            assert!(limits.basic_permitted(attacker).is_ok());
        }
        limits.basic_failed(attacker);
        assert!(limits.basic_permitted(attacker).is_ok());
        limits.basic_failed(ip("2001:db8:1:2:bbbb::9"));
        assert!(
            matches!(limits.basic_permitted(attacker), Err(Error::RateLimited { .. })),
            "one IPv6 /64 is one client"
        );
        assert!(
            limits.basic_permitted(ip("2001:db8:1:3::1")).is_ok(),
            "limits are per client"
        );
        assert!(limits.basic_permitted(ip("192.0.2.7")).is_ok());
    }

    #[test]
    fn client_networks_are_addresses_or_ipv6_prefixes() {
        assert_eq!(client_network(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(client_network(ip("::ffff:192.0.2.1")), "192.0.2.1");
        assert_eq!(client_network(ip("2001:db8::1")), "2001:db8:0:0::/64");
        assert_eq!(client_network(None), "unknown");
    }

    #[test]
    fn failure_windows_stay_bounded() {
        let windows = FailureWindows {
            allowed: 1,
            window: Duration::from_secs(60),
            seen: Mutex::new(HashMap::new()),
        };
        for i in 0..(MAX_NETWORKS + 50) {
            windows.failed(&format!("net-{i}"));
        }
        let seen = windows.seen.lock().unwrap();
        assert!(seen.len() <= MAX_NETWORKS + 1, "{}", seen.len());
    }
}
