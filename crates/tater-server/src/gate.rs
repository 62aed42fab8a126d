//! Caps on work that outlives its request: a response body that streams for minutes holds
//! memory and a connection for as long as its client takes to read it, so the number of such
//! bodies per client address (agent downloads) or per organization (exports) is capped. The
//! permit travels with the body and is given back when the body ends or the client goes away.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::Problem;

/// At most `limit` permits per key at a time.
pub struct ConcurrencyGate<K> {
    limit: usize,
    held: Arc<Mutex<HashMap<K, usize>>>,
    /// Says what is limited, in the 429 problem.
    what: &'static str,
    /// Seconds a refused client is asked to wait.
    retry_after_secs: u32,
}

/// One unit of a gate, held until dropped.
pub struct Permit<K: Hash + Eq> {
    key: Option<K>,
    held: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Hash + Eq + Clone> ConcurrencyGate<K> {
    /// `limit` 0 means no limit.
    pub fn new(limit: usize, what: &'static str, retry_after_secs: u32) -> Self {
        Self {
            limit,
            held: Arc::new(Mutex::new(HashMap::new())),
            what,
            retry_after_secs,
        }
    }

    /// A permit for `key`, or the 429 answer when `key` already holds `limit` of them.
    pub fn acquire(&self, key: K) -> Result<Permit<K>, Refused> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let count = held.entry(key.clone()).or_insert(0);
        if self.limit > 0 && *count >= self.limit {
            return Err(Refused {
                what: self.what,
                limit: self.limit,
                retry_after_secs: self.retry_after_secs,
            });
        }
        *count += 1;
        Ok(Permit {
            key: Some(key),
            held: self.held.clone(),
        })
    }

    /// Permits held for `key` right now.
    pub fn in_use(&self, key: &K) -> usize {
        let held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.get(key).copied().unwrap_or(0)
    }
}

impl<K: Hash + Eq> Drop for Permit<K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = held.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&key);
            }
        }
    }
}

/// A gate's refusal: 429 with `Retry-After`.
#[derive(Debug)]
pub struct Refused {
    what: &'static str,
    limit: usize,
    retry_after_secs: u32,
}

impl From<Refused> for Problem {
    fn from(r: Refused) -> Self {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_CONCURRENT",
            "Too many at once",
            format!(
                "at most {} {} may run at once; retry in {} s",
                r.limit, r.what, r.retry_after_secs
            ),
        )
        .retry_after(r.retry_after_secs)
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// Keeps `held` until `res`'s body has been sent or dropped (the client went away): a slow
/// reader of a long response holds its slot as long as it holds the server's work.
fn hold_until_sent<T: Send + 'static>(held: T, res: Response) -> Response {
    let (parts, body) = res.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &held;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

impl<K: Hash + Eq + Send + 'static> Permit<K> {
    /// See [`hold_until_sent`].
    pub fn hold_until_sent(self, res: Response) -> Response {
        hold_until_sent(self, res)
    }
}

/// An export's slots: one of its organization's, and one of the caller's own share of them
/// (half, at least one), so no single member can hold every slot of the organization.
pub struct ExportPermit {
    _org: Permit<tater_domain::OrgId>,
    _caller: Permit<(tater_domain::OrgId, String)>,
}

impl ExportPermit {
    /// See [`hold_until_sent`].
    pub fn hold_until_sent(self, res: Response) -> Response {
        hold_until_sent(self, res)
    }
}

/// The gates of one server.
pub struct Gates {
    /// Agent downloads per client address.
    pub downloads: ConcurrencyGate<IpAddr>,
    /// Exports per organization.
    pub exports: ConcurrencyGate<tater_domain::OrgId>,
    /// Exports per caller within an organization (half the organization's, at least one).
    pub exports_per_caller: ConcurrencyGate<(tater_domain::OrgId, String)>,
}

impl Gates {
    pub fn new(download_concurrency: usize, export_concurrency: usize) -> Self {
        let per_caller = if export_concurrency == 0 {
            0
        } else {
            (export_concurrency / 2).max(1)
        };
        Self {
            // A refused download is an agent that retries on its next update check.
            downloads: ConcurrencyGate::new(
                download_concurrency,
                "agent downloads per client address",
                30,
            ),
            exports: ConcurrencyGate::new(export_concurrency, "exports per organization", 10),
            exports_per_caller: ConcurrencyGate::new(
                per_caller,
                "exports per person in an organization",
                10,
            ),
        }
    }

    /// An export's slots for `org` and the caller `who`, or the 429 answer.
    pub fn export(&self, org: tater_domain::OrgId, who: String) -> Result<ExportPermit, Refused> {
        let caller = self.exports_per_caller.acquire((org, who))?;
        let org = self.exports.acquire(org)?;
        Ok(ExportPermit {
            _org: org,
            _caller: caller,
        })
    }
}

/// The client's address as the rate limiter determined it (trusted proxies applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The key a per-address cap counts under: the address itself for IPv4, its /64 for IPv6
    /// (one host usually holds a whole /64, so counting single addresses would let it rotate
    /// past the cap).
    pub fn cap_key(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(std::net::Ipv6Addr::from(octets))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_counted_per_key_and_given_back() {
        let gate = ConcurrencyGate::new(2, "downloads", 5);
        let a = gate.acquire("a").unwrap();
        let b = gate.acquire("a").unwrap();
        assert!(gate.acquire("a").is_err(), "a third one is refused");
        let other = gate.acquire("b").unwrap();
        drop(a);
        assert_eq!(gate.in_use(&"a"), 1);
        let again = gate.acquire("a").unwrap();
        drop((b, again, other));
        assert_eq!(gate.in_use(&"a"), 0);
        assert!(gate.held.lock().unwrap().is_empty(), "no key is kept");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_slash_64() {
        let a = ClientIp("2001:db8:1:2:aaaa::1".parse().unwrap()).cap_key();
        let b = ClientIp("2001:db8:1:2:bbbb::9".parse().unwrap()).cap_key();
        let other = ClientIp("2001:db8:1:3::1".parse().unwrap()).cap_key();
        assert_eq!(a, b);
        assert_ne!(a, other);
        let v4 = ClientIp("203.0.113.7".parse().unwrap());
        assert_eq!(v4.cap_key(), v4.0);
    }

    #[test]
    fn zero_means_unlimited() {
        let gate = ConcurrencyGate::new(0, "exports", 5);
        let permits: Vec<_> = (0..100).map(|_| gate.acquire(1).unwrap()).collect();
        assert_eq!(gate.in_use(&1), 100);
        drop(permits);
    }
}
