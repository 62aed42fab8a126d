//! The database check behind `/healthz`, shared by the requests of a short moment.
//!
//! `/healthz` takes no credential and no rate limit (orchestrators and load balancers poll
//! it), so a database round trip per request let anyone turn cheap requests into database
//! work, and cost the endpoint most of its speed. One check now answers every request for
//! [`HealthProbe::FRESH_FOR`]; when it is stale the first request checks again and the
//! others arriving meanwhile wait for that answer instead of checking too (single flight).
//! A database that hangs is judged down after [`HealthProbe::PING_TIMEOUT`].

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

// Tokio's clock: monotonic, and under a test's control (`start_paused`).
use tokio::time::Instant;

pub struct HealthProbe {
    /// Monotonic origin of the times kept in `last`.
    origin: Instant,
    /// The last answer: milliseconds since `origin` when it was taken, shifted left one bit,
    /// with the low bit set when the database answered; 0 before the first check.
    last: AtomicU64,
    /// Held by the one request that checks.
    checking: tokio::sync::Mutex<()>,
    fresh_for: Duration,
}

impl HealthProbe {
    /// How long one answer stands: short enough that an orchestrator polling every few
    /// seconds sees every outage, long enough that a flood of requests costs one check.
    pub const FRESH_FOR: Duration = Duration::from_millis(250);
    /// A check that takes longer counts as the database being down.
    pub const PING_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new() -> Self {
        Self::fresh_for(Self::FRESH_FOR)
    }

    fn fresh_for(fresh_for: Duration) -> Self {
        Self {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            checking: tokio::sync::Mutex::new(()),
            fresh_for,
        }
    }

    /// Whether the database answers, by `ping` or by an answer fresh enough to stand.
    pub async fn healthy<F, Fut>(&self, ping: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool>,
    {
        if let Some(ok) = self.fresh() {
            return ok;
        }
        let _one = self.checking.lock().await;
        // Another request may have checked while this one waited.
        if let Some(ok) = self.fresh() {
            return ok;
        }
        let ok = tokio::time::timeout(Self::PING_TIMEOUT, ping())
            .await
            .unwrap_or_else(|_| {
                tracing::error!(timeout = ?Self::PING_TIMEOUT, "health check: the database did not answer in time");
                false
            });
        // `+ 1`: a check in the first millisecond is still told apart from "never checked".
        let at = self.elapsed_ms() + 1;
        self.last.store(at << 1 | u64::from(ok), Ordering::Release);
        ok
    }

    fn fresh(&self) -> Option<bool> {
        let last = self.last.load(Ordering::Acquire);
        let at = last >> 1;
        let fresh_ms = u64::try_from(self.fresh_for.as_millis()).unwrap_or(u64::MAX);
        (at != 0 && self.elapsed_ms() + 1 < at.saturating_add(fresh_ms)).then_some(last & 1 == 1)
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX >> 2)
    }
}

impl Default for HealthProbe {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// A ping that counts itself, answers `ok` after `delay`.
    fn counted(
        pings: &Arc<AtomicUsize>,
        ok: bool,
        delay: Duration,
    ) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + use<> {
        let pings = pings.clone();
        move || {
            Box::pin(async move {
                pings.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                ok
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_share_one_check() {
        let probe = Arc::new(HealthProbe::fresh_for(Duration::from_secs(3600)));
        let pings = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..100)
            .map(|_| {
                let (probe, ping) = (
                    probe.clone(),
                    counted(&pings, true, Duration::from_millis(50)),
                );
                tokio::spawn(async move { probe.healthy(ping).await })
            })
            .collect();
        for c in calls {
            assert!(c.await.unwrap());
        }
        assert_eq!(pings.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_answer_is_checked_again_and_a_failure_is_reported() {
        let probe = HealthProbe::fresh_for(Duration::from_millis(20));
        let pings = Arc::new(AtomicUsize::new(0));
        assert!(probe.healthy(counted(&pings, true, Duration::ZERO)).await);
        assert!(
            probe.healthy(counted(&pings, false, Duration::ZERO)).await,
            "still fresh"
        );
        assert_eq!(pings.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(30)).await;
        assert!(
            !probe.healthy(counted(&pings, false, Duration::ZERO)).await,
            "the database went down"
        );
        assert_eq!(pings.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_stands_as_long_as_a_success() {
        let probe = HealthProbe::fresh_for(Duration::from_millis(20));
        let pings = Arc::new(AtomicUsize::new(0));
        assert!(!probe.healthy(counted(&pings, false, Duration::ZERO)).await);
        assert!(
            !probe.healthy(counted(&pings, true, Duration::ZERO)).await,
            "still down"
        );
        assert_eq!(pings.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(30)).await;
        assert!(
            probe.healthy(counted(&pings, true, Duration::ZERO)).await,
            "back up"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_database_counts_as_down() {
        let probe = HealthProbe::new();
        let pings = Arc::new(AtomicUsize::new(0));
        let hang = counted(&pings, true, Duration::from_secs(3600));
        assert!(!probe.healthy(hang).await);
    }
}
