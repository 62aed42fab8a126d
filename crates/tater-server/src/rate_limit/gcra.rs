//! The Generic Cell Rate Algorithm, the same math in memory and in Redis (`redis.rs` runs it
//! as a Lua script): one "theoretical arrival time" (TAT) per bucket, O(1) per request.
//!
//! With `limit` requests per `window`: emission interval `T = window / limit`, burst tolerance
//! `tau = T × (limit − 1)`. A request at `now` is allowed when `TAT − tau ≤ now`; then
//! `TAT = max(TAT, now) + T`. Times are microseconds.

/// The outcome of one request against one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    /// Requests still allowed right now after this one.
    pub remaining: u32,
    /// Microseconds until the bucket is back to full quota.
    pub reset_us: i64,
    /// Microseconds until the next request would be allowed (0 when allowed).
    pub retry_after_us: i64,
    /// The bucket's new TAT (unchanged when refused).
    pub tat: i64,
}

pub const WINDOW_US: i64 = 60_000_000;

/// Decides one request. `tat` is the stored TAT, if any.
pub fn decide(tat: Option<i64>, now: i64, limit: u32) -> Outcome {
    let limit = i64::from(limit.max(1));
    let t = WINDOW_US / limit;
    let tau = t * (limit - 1);
    let tat = tat.unwrap_or(now).max(now);
    if tat - now > tau {
        return Outcome {
            allowed: false,
            remaining: 0,
            reset_us: tat - now,
            retry_after_us: tat - tau - now,
            tat,
        };
    }
    let new_tat = tat + t;
    let backlog = new_tat - now;
    let remaining = ((limit * t - backlog) / t).clamp(0, limit) as u32;
    Outcome {
        allowed: true,
        remaining,
        reset_us: backlog,
        retry_after_us: 0,
        tat: new_tat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_quota_then_refuses_until_time_passes() {
        let mut tat = None;
        let now = 1_000_000_000;
        for i in 0..10 {
            let o = decide(tat, now, 10);
            assert!(o.allowed, "request {i}");
            assert_eq!(o.remaining, 9 - i);
            tat = Some(o.tat);
        }
        let refused = decide(tat, now, 10);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_us, 6_000_000, "one emission interval");
        assert_eq!(
            refused.tat,
            tat.unwrap(),
            "a refusal does not consume quota"
        );
        // Six seconds later exactly one more request fits.
        let later = decide(tat, now + 6_000_000, 10);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
        assert!(!decide(Some(later.tat), now + 6_000_000, 10).allowed);
        // After a full minute of quiet the whole quota is back.
        assert_eq!(decide(Some(later.tat), now + 66_000_000, 10).remaining, 9);
    }
}
