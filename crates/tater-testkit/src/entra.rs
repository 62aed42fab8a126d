//! A local stand-in for Microsoft Entra ID: real RSA keys, a real JWKS over HTTP (with a hit
//! counter), and RS256 tokens with Entra's claim layout. The server verifies them with the
//! same code path it uses against login.microsoftonline.com.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

pub const AUDIENCE: &str = "api://tater-test";

/// An RSA key pair with its PEM forms.
pub struct TestKey {
    pub kid: String,
    pub private_der: Vec<u8>,
    pub public_pem: String,
    pub n: String,
    pub e: String,
}

/// Three keys, generated once per test process (RSA key generation is the slow part).
fn keys() -> &'static [TestKey] {
    static KEYS: OnceLock<Vec<TestKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        ["k1", "k2", "attacker"]
            .iter()
            .map(|kid| {
                let key = RsaPrivateKey::new(&mut rand_core::OsRng, 2048).expect("rsa keygen");
                TestKey {
                    kid: (*kid).to_owned(),
                    private_der: key.to_pkcs1_der().expect("der").as_bytes().to_vec(),
                    public_pem: key
                        .to_public_key()
                        .to_pkcs1_pem(LineEnding::LF)
                        .expect("pem"),
                    n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                    e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
                }
            })
            .collect()
    })
}

pub fn key(kid: &str) -> &'static TestKey {
    keys()
        .iter()
        .find(|k| k.kid == kid)
        .expect("known test key")
}

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The fake identity provider's JWKS endpoint.
pub struct FakeEntra {
    pub jwks_url: String,
    /// Where its authorize and token endpoints live (the server's `--entra-authority`).
    pub authority: String,
    /// Who is signed in at the stand-in, and what its endpoints were asked.
    pub desk: crate::entra_sign_in::SignInDesk,
    hits: Arc<AtomicUsize>,
    published: Arc<Mutex<Vec<String>>>,
}

impl FakeEntra {
    /// Serves a JWKS with `k1` published.
    pub async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let published = Arc::new(Mutex::new(vec!["k1".to_owned()]));
        let (h, p) = (hits.clone(), published.clone());
        let router = axum::Router::new().route(
            "/common/discovery/v2.0/keys",
            get(move || {
                let (h, p) = (h.clone(), p.clone());
                async move {
                    h.fetch_add(1, Ordering::SeqCst);
                    let kids = p.lock().unwrap().clone();
                    let keys: Vec<Value> = kids
                        .iter()
                        .map(|kid| {
                            let k = key(kid);
                            json!({ "kty": "RSA", "use": "sig", "kid": k.kid, "n": k.n, "e": k.e, "alg": "RS256" })
                        })
                        .collect();
                    // A key of another type must be skipped, not break the set.
                    let mut all = keys;
                    all.push(json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" }));
                    Json(json!({ "keys": all }))
                }
            }),
        );
        let desk = crate::entra_sign_in::SignInDesk::default();
        let router = router.merge(desk.routes());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            jwks_url: format!("http://{addr}/common/discovery/v2.0/keys"),
            authority: format!("http://{addr}"),
            desk,
            hits,
            published,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn publish(&self, kids: &[&str]) {
        *self.published.lock().unwrap() = kids.iter().map(|k| (*k).to_owned()).collect();
    }

    /// Where the stand-in serves its key set (the server's `--entra-jwks-url`).
    pub fn jwks_url(&self) -> &str {
        &self.jwks_url
    }
}

/// The audiences tokens of the stand-in may carry (the server's `--entra-audiences`).
pub const AUDIENCES: [&str; 2] = [AUDIENCE, "00000000-1111-2222-3333-444444444444"];

/// Claims of a v2.0 access token for (`tid`, `oid`).
pub fn claims(tid: &str, oid: &str, upn: &str) -> Value {
    let now = now_secs();
    json!({
        "aud": AUDIENCE,
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "iat": now - 10, "nbf": now - 10, "exp": now + 600,
        "tid": tid, "oid": oid, "sub": "pairwise-subject",
        "preferred_username": upn, "name": "Test User", "scp": "access_as_user", "ver": "2.0",
    })
}

/// Signs `claims` RS256 with test key `kid`, naming `header_kid` in the header.
pub fn sign_as(kid: &str, header_kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = header_kid.map(str::to_owned);
    let key = EncodingKey::from_rsa_der(&key(kid).private_der);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// Signs with `kid` and names it.
pub fn sign(kid: &str, claims: &Value) -> String {
    sign_as(kid, Some(kid), claims)
}

/// A token assembled by hand: any header, any payload, any signature bytes.
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// HS256 over header.payload with an arbitrary secret (for algorithm-confusion attacks).
pub fn hs256(claims: &Value, secret: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}
