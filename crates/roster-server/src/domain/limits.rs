//! Rate limits on the operations that can be abused: login, registration, invites and
//! directory reads. Login guessing is also stopped by the lock-out in `account`.

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
    /// Login attempts per login name per minute.
    pub logins_per_minute: u32,
    /// Login attempts per client address per minute.
    pub address_logins_per_minute: u32,
    /// Login attempts per minute from everywhere together: password checks are costly.
    pub total_logins_per_minute: u32,
    /// Registrations per client address per hour.
    pub registrations_per_hour: u32,
    /// Invites created per account per hour.
    pub invites_per_hour: u32,
    /// Directory and change reads per account per minute.
    pub reads_per_minute: u32,
}

impl Default for RateSettings {
    fn default() -> Self {
        RateSettings {
            logins_per_minute: 20,
            address_logins_per_minute: 60,
            total_logins_per_minute: 1200,
            registrations_per_hour: 30,
            invites_per_hour: 100,
            reads_per_minute: 600,
        }
    }
}

pub(crate) struct Limits {
    logins: DefaultKeyedRateLimiter<String>,
    address_logins: DefaultKeyedRateLimiter<Option<IpAddr>>,
    total_logins: DefaultDirectRateLimiter,
    registrations: DefaultKeyedRateLimiter<Option<IpAddr>>,
    invites: DefaultKeyedRateLimiter<AccountId>,
    reads: DefaultKeyedRateLimiter<AccountId>,
    basic_failures: FailureWindows,
}

/// Failed HTTP Basic logins per login name in fixed one-minute windows. Only failures count:
/// a CardDAV client authenticates every request, so counting successes would lock out a
/// phone in the middle of a sync.
struct FailureWindows {
    allowed: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailureWindows {
    fn permitted(&self, key: &str) -> Result<()> {
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match seen.get(key) {
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
            logins: DefaultKeyedRateLimiter::keyed(quota(rates.logins_per_minute, minute)),
            address_logins: DefaultKeyedRateLimiter::keyed(quota(rates.address_logins_per_minute, minute)),
            total_logins: DefaultDirectRateLimiter::direct(quota(rates.total_logins_per_minute, minute)),
            registrations: DefaultKeyedRateLimiter::keyed(quota(rates.registrations_per_hour, hour)),
            invites: DefaultKeyedRateLimiter::keyed(quota(rates.invites_per_hour, hour)),
            reads: DefaultKeyedRateLimiter::keyed(quota(rates.reads_per_minute, minute)),
            basic_failures: FailureWindows {
                allowed: rates.logins_per_minute.max(1),
                window: minute,
                seen: Mutex::new(HashMap::new()),
            },
        }
    }

    pub(crate) fn login(&self, login: &str) -> Result<()> {
        check(&self.logins, &login.to_string())
    }

    /// Counts a login attempt from `client` against its address's and the total allowance;
    /// the address is checked first, so that one client cannot spend everyone's allowance.
    pub(crate) fn login_attempt(&self, client: Option<IpAddr>) -> Result<()> {
        check(&self.address_logins, &client)?;
        self.total_logins.check().map_err(|not_until| Error::RateLimited {
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
    }

    pub(crate) fn registration(&self, client: Option<IpAddr>) -> Result<()> {
        check(&self.registrations, &client)
    }

    pub(crate) fn invite(&self, account: AccountId) -> Result<()> {
        check(&self.invites, &account)
    }

    pub(crate) fn read(&self, account: AccountId) -> Result<()> {
        check(&self.reads, &account)
    }

    /// Refuses HTTP Basic logins for a login name that failed too often lately.
    pub(crate) fn basic_permitted(&self, login: &str) -> Result<()> {
        self.basic_failures.permitted(login)
    }

    /// Counts a failed HTTP Basic login.
    pub(crate) fn basic_failed(&self, login: &str) {
        self.basic_failures.failed(login);
    }

    /// Forgets keys whose buckets are full again, so memory does not grow with every caller.
    pub(crate) fn shrink(&self) {
        self.logins.retain_recent();
        self.address_logins.retain_recent();
        self.registrations.retain_recent();
        self.invites.retain_recent();
        self.reads.retain_recent();
        self.basic_failures.shrink();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused() {
        let limits = Limits::new(&RateSettings {
            logins_per_minute: 3,
            ..RateSettings::default()
        });
        for _ in 0..3 {
            assert!(limits.login("anna").is_ok());
        }
        assert!(matches!(limits.login("anna"), Err(Error::RateLimited { .. })));
        assert!(limits.login("ben").is_ok(), "limits are per key");
    }

    #[test]
    fn login_attempts_are_limited_per_address_and_in_total() {
        let limits = Limits::new(&RateSettings {
            address_logins_per_minute: 2,
            total_logins_per_minute: 3,
            ..RateSettings::default()
        });
        let (a, b, c) = (
            Some([10, 0, 0, 1].into()),
            Some([10, 0, 0, 2].into()),
            Some([10, 0, 0, 3].into()),
        );
        assert!(limits.login_attempt(a).is_ok());
        assert!(limits.login_attempt(a).is_ok());
        assert!(matches!(limits.login_attempt(a), Err(Error::RateLimited { .. })));
        assert!(
            limits.login_attempt(b).is_ok(),
            "a refused address spent none of the total"
        );
        assert!(
            matches!(limits.login_attempt(c), Err(Error::RateLimited { .. })),
            "total spent"
        );
    }

    #[test]
    fn only_failed_basic_logins_count() {
        let limits = Limits::new(&RateSettings {
            logins_per_minute: 2,
            ..RateSettings::default()
        });
        for _ in 0..10 {
            assert!(limits.basic_permitted("anna").is_ok());
        }
        limits.basic_failed("anna");
        assert!(limits.basic_permitted("anna").is_ok());
        limits.basic_failed("anna");
        assert!(matches!(limits.basic_permitted("anna"), Err(Error::RateLimited { .. })));
        assert!(limits.basic_permitted("ben").is_ok(), "limits are per login");
    }
}
