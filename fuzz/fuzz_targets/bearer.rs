//! The bearer-token pre-parse (`tater_bearer`): any bytes a caller puts after `Bearer `.
//! Invariants: no panic; a token with an Entra key id is always routed to the Entra verifier.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tater_bearer::{BearerKind, classify, entra_key_id};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let kind = classify(token);
    if let Some(kid) = entra_key_id(token) {
        assert_eq!(kind, Some(BearerKind::Entra), "a key id outside the Entra route");
        assert!(!kid.is_empty() && kid.len() <= tater_bearer::MAX_KEY_ID_LEN);
    }
});
