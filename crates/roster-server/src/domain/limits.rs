//! Rate limits on the operations that can be abused: login, registration, invites and
//! directory reads. Login guessing is also stopped by the lock-out in `account`.

use super::error::{Error, Result};
use super::ids::AccountId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Allowed rates; each is a burst that refills evenly over the period.
#[derive(Debug, Clone, Copy)]
pub struct RateSettings {
    /// Login attempts per login name per minute.
    pub logins_per_minute: u32,
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
            registrations_per_hour: 30,
            invites_per_hour: 100,
            reads_per_minute: 600,
        }
    }
}

pub(crate) struct Limits {
    logins: DefaultKeyedRateLimiter<String>,
    registrations: DefaultKeyedRateLimiter<Option<IpAddr>>,
    invites: DefaultKeyedRateLimiter<AccountId>,
    reads: DefaultKeyedRateLimiter<AccountId>,
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
            registrations: DefaultKeyedRateLimiter::keyed(quota(rates.registrations_per_hour, hour)),
            invites: DefaultKeyedRateLimiter::keyed(quota(rates.invites_per_hour, hour)),
            reads: DefaultKeyedRateLimiter::keyed(quota(rates.reads_per_minute, minute)),
        }
    }

    pub(crate) fn login(&self, login: &str) -> Result<()> {
        check(&self.logins, &login.to_string())
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

    /// Forgets keys whose buckets are full again, so memory does not grow with every caller.
    pub(crate) fn shrink(&self) {
        self.logins.retain_recent();
        self.registrations.retain_recent();
        self.invites.retain_recent();
        self.reads.retain_recent();
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
}
