//! What every handler shares: the database, the configuration, token keys and rate limiters.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
};
use sea_orm::DatabaseConnection;

use crate::{auth::jwt::TokenKeys, config::Config, sync::SyncService};

/// Shared application state, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub tokens: TokenKeys,
    pub limits: Arc<Limits>,
    /// The sync machinery: documents, connections, storage.
    pub sync: SyncService,
}

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// A keyed rate limiter with the numbers it was built from, for the `X-RateLimit-*` headers.
pub struct KeyedLimit {
    limiter: Limiter,
    /// Requests allowed at once.
    pub burst: u32,
    /// Time to earn back one request.
    pub replenish: Duration,
}

impl std::fmt::Debug for KeyedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimit")
            .field("burst", &self.burst)
            .field("replenish", &self.replenish)
            .finish_non_exhaustive()
    }
}

/// The outcome of one check against a [`KeyedLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitCheck {
    /// Allowed; `remaining` requests are left in the burst, full again in `reset_secs`.
    Allowed { remaining: u32, reset_secs: u64 },
    /// Refused; retry in `retry_after_secs`.
    Refused { retry_after_secs: u64 },
}

/// Above this many tracked keys, forget the ones whose budget is full again, so a flood of
/// distinct IPs or emails cannot grow memory without bound.
const MAX_TRACKED_KEYS: usize = 100_000;

impl KeyedLimit {
    /// `per_minute` sustained, `burst` at once.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self {
            replenish: quota.replenish_interval(),
            limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
            burst: burst.get(),
        }
    }

    /// Spends one request of `key`'s budget.
    pub fn check(&self, key: &str) -> LimitCheck {
        if self.limiter.len() > MAX_TRACKED_KEYS {
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let missing = self.burst.saturating_sub(remaining);
                LimitCheck::Allowed {
                    remaining,
                    reset_secs: (self.replenish * missing).as_secs_f64().ceil() as u64,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                LimitCheck::Refused {
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                }
            }
        }
    }
}

/// The server's rate limiters.
#[derive(Debug)]
pub struct Limits {
    /// Every request, per client IP.
    pub requests: KeyedLimit,
    /// Login attempts, per account.
    pub login_per_account: KeyedLimit,
    /// Login attempts, per client IP (a shared office NAT gets four accounts' worth).
    pub login_per_ip: KeyedLimit,
}

impl Limits {
    /// Limiters sized from the configuration.
    pub fn new(config: &Config) -> Self {
        let login = config.login_attempts_per_minute;
        Self {
            requests: KeyedLimit::new(config.rate_limit_per_minute, config.rate_limit_burst),
            login_per_account: KeyedLimit::new(login, login),
            login_per_ip: KeyedLimit::new(login * 4, login * 4),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_its_burst_and_others_are_not() {
        let limit = KeyedLimit::new(60, 3);
        for expected in [2, 1, 0] {
            assert!(matches!(
                limit.check("a"),
                LimitCheck::Allowed { remaining, .. } if remaining == expected
            ));
        }
        assert!(matches!(
            limit.check("a"),
            LimitCheck::Refused { retry_after_secs } if retry_after_secs >= 1
        ));
        assert!(matches!(limit.check("b"), LimitCheck::Allowed { .. }));
    }
}
