//! The pre-parse of bearer tokens: everything Tater reads from a token before its signature
//! is checked. This is the part an unauthenticated caller reaches with any bytes it likes, so it
//! stays small, allocation-bounded and panic-free (fuzzed: `fuzz/fuzz_targets/bearer.rs`).
//!
//! The header's algorithm only picks which verifier runs; each verifier then accepts exactly
//! one algorithm and one token type, so neither kind passes as the other.

use jsonwebtoken::Algorithm;

/// Tokens longer than this are refused unread: ours are a few hundred bytes, Entra ID's a few
/// kilobytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Key ids longer than this are refused (Entra ID's are about 40 characters).
pub const MAX_KEY_ID_LEN: usize = 128;

/// Which verifier a bearer token goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerKind {
    /// A session token Tater issued (HS256 with the server's own secret).
    Session,
    /// An Entra ID token (RS256, a key from the tenant's published key set).
    Entra,
}

fn header(token: &str) -> Option<jsonwebtoken::Header> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    jsonwebtoken::decode_header(token).ok()
}

/// The verifier for `token`, or `None` when its header is unreadable or names an algorithm
/// neither verifier accepts.
pub fn classify(token: &str) -> Option<BearerKind> {
    match header(token)?.alg {
        Algorithm::HS256 => Some(BearerKind::Session),
        Algorithm::RS256 => Some(BearerKind::Entra),
        _ => None,
    }
}

/// The key id an Entra ID token names: only an RS256 header with a non-empty id of at most
/// [`MAX_KEY_ID_LEN`] characters has one worth looking up.
pub fn entra_key_id(token: &str) -> Option<String> {
    let h = header(token)?;
    match (h.alg, h.kid) {
        (Algorithm::RS256, Some(kid)) if !kid.is_empty() && kid.len() <= MAX_KEY_ID_LEN => {
            Some(kid)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn token(header: &str) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.sig", b64.encode(header), b64.encode("{}"))
    }

    #[test]
    fn the_algorithm_picks_the_verifier() {
        assert_eq!(
            classify(&token(r#"{"alg":"HS256","typ":"JWT"}"#)),
            Some(BearerKind::Session)
        );
        assert_eq!(
            classify(&token(r#"{"alg":"RS256","kid":"k1"}"#)),
            Some(BearerKind::Entra)
        );
        for refused in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"alg":"ES256"}"#,
            r#"{"typ":"JWT"}"#,
            "not json",
        ] {
            assert_eq!(classify(&token(refused)), None, "{refused}");
        }
        assert_eq!(classify(""), None);
        assert_eq!(classify("a.b"), None);
        let long = token(&format!(
            r#"{{"alg":"HS256","x":"{}"}}"#,
            "a".repeat(MAX_TOKEN_LEN)
        ));
        assert_eq!(classify(&long), None, "oversized tokens are not read");
    }

    #[test]
    fn only_an_rs256_header_with_a_sane_key_id_names_a_key() {
        assert_eq!(
            entra_key_id(&token(r#"{"alg":"RS256","kid":"abc"}"#)).as_deref(),
            Some("abc")
        );
        assert_eq!(entra_key_id(&token(r#"{"alg":"RS256","kid":""}"#)), None);
        assert_eq!(entra_key_id(&token(r#"{"alg":"RS256"}"#)), None);
        assert_eq!(entra_key_id(&token(r#"{"alg":"HS256","kid":"abc"}"#)), None);
        let long = format!(
            r#"{{"alg":"RS256","kid":"{}"}}"#,
            "k".repeat(MAX_KEY_ID_LEN + 1)
        );
        assert_eq!(entra_key_id(&token(&long)), None);
    }
}
