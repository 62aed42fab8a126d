//! Webhook deliveries: the entry as JSON, signed twice with the destination's secret.
//!
//! Headers on every POST:
//!
//! * `X-TATER-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` (SPEC L4);
//! * `X-TATER-Delivery: <uuid>` — the same for every attempt at one entry to one destination,
//!   so a receiver drops duplicates by it;
//! * `X-TATER-Timestamp: <unix seconds of this attempt>`;
//! * `X-TATER-Signature-Timed: v1=<hex HMAC-SHA256(secret, "<timestamp>.<delivery>.<raw body>")>`
//!   — covers the timestamp and delivery id too, so a receiver that rejects timestamps older
//!   than a few minutes and remembers delivery ids for that long is safe from replays.
//!
//! The key is the secret's UTF-8 bytes. A receiver can check with ordinary tools:
//!
//! ```sh
//! printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$SECRET"                      # X-TATER-Signature
//! printf '%s.%s.%s' "$TS" "$DELIVERY" "$BODY" | openssl dgst -sha256 -hmac "$SECRET"  # -Timed
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Namespace of delivery ids (UUIDv5 of destination and entry).
const DELIVERY_NAMESPACE: Uuid = Uuid::from_u128(0x6f1d_3c2a_8e4b_4c1d_9a7e_2b5f_0c3d_4e6a);

/// The delivery id of `entry_id` to `destination_id`: stable across retries and restarts.
pub fn delivery_id(destination_id: &str, entry_id: &str) -> String {
    Uuid::new_v5(
        &DELIVERY_NAMESPACE,
        format!("{destination_id}/{entry_id}").as_bytes(),
    )
    .to_string()
}

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    // HMAC accepts keys of any length, so this never fails; an empty MAC would only fail
    // verification at the receiver.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The headers of one attempt.
pub fn headers(
    secret: &str,
    delivery: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let ts = timestamp.to_string();
    vec![
        ("content-type", "application/json".into()),
        (
            "x-tater-signature",
            format!("sha256={}", hmac_hex(secret, &[body])),
        ),
        ("x-tater-delivery", delivery.to_owned()),
        ("x-tater-timestamp", ts.clone()),
        (
            "x-tater-signature-timed",
            format!(
                "v1={}",
                hmac_hex(
                    secret,
                    &[ts.as_bytes(), b".", delivery.as_bytes(), b".", body]
                )
            ),
        ),
    ]
}

/// Verifies both signatures as a receiver would (constant time); used by tests and by
/// receivers written in Rust.
pub fn verify(secret: &str, headers: &[(String, String)], body: &[u8]) -> bool {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let (Some(sig), Some(delivery), Some(ts), Some(timed)) = (
        get("x-tater-signature"),
        get("x-tater-delivery"),
        get("x-tater-timestamp"),
        get("x-tater-signature-timed"),
    ) else {
        return false;
    };
    let check = |given: Option<&str>, parts: &[&[u8]]| {
        let Some(hex_sig) = given else { return false };
        let Ok(bytes) = hex::decode(hex_sig) else {
            return false;
        };
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).is_ok_and(|mut mac| {
            for p in parts {
                mac.update(p);
            }
            mac.verify_slice(&bytes).is_ok()
        })
    };
    check(sig.strip_prefix("sha256="), &[body])
        && check(
            timed.strip_prefix("v1="),
            &[ts.as_bytes(), b".", delivery.as_bytes(), b".", body],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_fails() {
        let body = br#"{"id":"x"}"#;
        let h: Vec<(String, String)> = headers("s3cret", "d-1", 1_764_000_000, body)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert!(verify("s3cret", &h, body));
        assert!(!verify("other", &h, body));
        assert!(!verify("s3cret", &h, br#"{"id":"y"}"#));
        let mut replayed = h.clone();
        replayed[3].1 = "1764009999".into();
        assert!(
            !verify("s3cret", &replayed, body),
            "the timestamp is signed"
        );
        assert_eq!(delivery_id("d", "e"), delivery_id("d", "e"));
        assert_ne!(delivery_id("d", "e"), delivery_id("d2", "e"));
    }
}
