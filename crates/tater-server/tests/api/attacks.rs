//! The attack suite (SPEC A1–A5, T1): token, key and header tricks against the real server.
//! Every case sends a write (POST /api/poam) with the forged or misused credential and
//! asserts both the answer and that no organization changed.

use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tater_domain::{OrgId, Role, Timestamp};
use tater_service::AdminOrgRef;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;
use tater_testkit::entra::{self as idp, FakeEntra, claims, hs256, raw_token, sign, sign_as};

both_engines!(
    entra_token_attacks,
    entra_key_rotation,
    entra_verdicts_are_cached_but_tokens_still_expire,
    local_token_and_key_attacks,
    outside_attack_findings
);

struct World {
    app: TestApp,
    orgs: Vec<OrgId>,
    /// Attacks refused (status checked, nothing changed) and controls accepted.
    refused: AtomicUsize,
    accepted: AtomicUsize,
}

impl World {
    fn new(app: TestApp, orgs: Vec<OrgId>) -> Self {
        Self {
            app,
            orgs,
            refused: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        }
    }

    fn report(&self, suite: &str) {
        eprintln!(
            "{suite}: {} attacks refused with nothing changed, {} controls accepted",
            self.refused.load(Ordering::SeqCst),
            self.accepted.load(Ordering::SeqCst)
        );
    }

    fn post(&self, header: (&str, String)) -> RequestBuilder {
        self.app
            .client
            .post(self.app.url("/api/poam"))
            .header(header.0, header.1)
            .json(&sample("poam", 1))
    }

    fn bearer(&self, token: &str) -> RequestBuilder {
        self.post(("authorization", format!("Bearer {token}")))
    }

    /// Sends `req`, expects `status` and `code`, and checks every organization is unchanged.
    /// Sends `req`, expects the refusal and that no organization changed; returns the problem.
    async fn refused(
        &self,
        case: &str,
        req: RequestBuilder,
        status: StatusCode,
        code: &str,
    ) -> Value {
        let mut before = Vec::new();
        for org in &self.orgs {
            before.push(self.app.snapshot(*org).await);
        }
        let (s, body) = json_of(req.send().await.unwrap()).await;
        assert_eq!(s, status, "{case}: {body}");
        assert_eq!(body["error"], code, "{case}");
        for (org, snap) in self.orgs.iter().zip(before) {
            assert_eq!(
                self.app.snapshot(*org).await,
                snap,
                "{case}: an organization changed"
            );
        }
        self.refused.fetch_add(1, Ordering::SeqCst);
        body
    }

    async fn accepted(&self, case: &str, req: RequestBuilder) -> Value {
        let (s, body) = json_of(req.send().await.unwrap()).await;
        assert_eq!(s, StatusCode::CREATED, "{case}: {body}");
        self.accepted.fetch_add(1, Ordering::SeqCst);
        body
    }
}

const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;

/// A server clock that starts at the real time (tokens of the Entra stand-in carry it) and
/// moves only when the test moves it.
fn clock_at_now() -> std::sync::Arc<tater_service::FixedClock> {
    std::sync::Arc::new(tater_service::FixedClock::new(Timestamp::from_millis(
        idp::now_secs() * 1000,
    )))
}

async fn entra_token_attacks(db: TestDb) {
    let entra = FakeEntra::start().await;
    let cfg = entra_config(&entra);
    // The server's clock starts at the stand-in's time; the test moves it past the floor.
    let clock = clock_at_now();
    let app = TestApp::spawn_configured(db, |c| {
        c.entra = Some(cfg);
        c.clock = clock.clone();
    })
    .await;
    let (a, tid_a) = app.entra_org("Org A").await;
    let (b, tid_b) = app.entra_org("Org B").await;
    let (_, oid) = app
        .entra_member(a, &tid_a, "ann@a.example", Role::Admin)
        .await;
    let (_, viewer_oid) = app
        .entra_member(a, &tid_a, "val@a.example", Role::Viewer)
        .await;
    let w = World::new(app, vec![a, b]);
    let good = claims(&tid_a, &oid, "ann@a.example");
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };

    // The control: a valid token signs in and writes, audited as the Entra user via web.
    let created = w
        .accepted("valid v2 token", w.bearer(&sign("k1", &good)))
        .await;
    let entry = &w.app.audit_entries(a).await[0];
    assert_eq!(
        (entry["oid"].as_str(), entry["via"].as_str()),
        (Some(oid.as_str()), Some("web"))
    );
    assert_eq!(entry["entityId"], created["id"]);
    let v1 = with("iss", json!(format!("https://sts.windows.net/{tid_a}/")));
    w.accepted("valid v1 issuer", w.bearer(&sign("k1", &v1)))
        .await;
    w.accepted(
        "second accepted audience",
        w.bearer(&sign(
            "k1",
            &with("aud", json!("00000000-1111-2222-3333-444444444444")),
        )),
    )
    .await;
    w.accepted(
        "exp 30 s ago, inside the 60 s leeway",
        w.bearer(&sign("k1", &with("exp", json!(idp::now_secs() - 30)))),
    )
    .await;
    let fetches = entra.hits();
    assert_eq!(fetches, 1, "the JWKS is fetched once and cached");

    let forged_header = |alg: &str| json!({ "alg": alg, "typ": "JWT", "kid": "k1" });
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            raw_token(&json!({ "alg": "none", "typ": "JWT" }), &good, b""),
        ),
        (
            "alg none with kid",
            raw_token(&forged_header("none"), &good, b""),
        ),
        (
            "HS256 keyed with the RSA public key (PEM)",
            hs256(&good, idp::key("k1").public_pem.as_bytes(), Some("k1")),
        ),
        (
            "HS256 keyed with the RSA modulus",
            hs256(&good, idp::key("k1").n.as_bytes(), Some("k1")),
        ),
        (
            "RS512 header",
            raw_token(&forged_header("RS512"), &good, b"sig"),
        ),
        (
            "ES256 header",
            raw_token(&forged_header("ES256"), &good, b"sig"),
        ),
        ("RS256 without kid", sign_as("k1", None, &good)),
        (
            "wrong audience",
            sign("k1", &with("aud", json!("api://someone-else"))),
        ),
        (
            "audience list without ours",
            sign("k1", &with("aud", json!(["api://x", "api://y"]))),
        ),
        (
            "wrong issuer host",
            sign(
                "k1",
                &with(
                    "iss",
                    json!(format!("https://login.evil.example/{tid_a}/v2.0")),
                ),
            ),
        ),
        (
            "issuer names another tenant than tid",
            sign(
                "k1",
                &with(
                    "iss",
                    json!(format!("https://login.microsoftonline.com/{tid_b}/v2.0")),
                ),
            ),
        ),
        (
            "issuer template left unfilled",
            sign(
                "k1",
                &with(
                    "iss",
                    json!("https://login.microsoftonline.com/{tenantid}/v2.0"),
                ),
            ),
        ),
        (
            "expired beyond leeway",
            sign("k1", &with("exp", json!(idp::now_secs() - 120))),
        ),
        (
            "not yet valid",
            sign("k1", &with("nbf", json!(idp::now_secs() + 120))),
        ),
        (
            "no exp",
            sign("k1", &{
                let mut c = good.clone();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
        ),
        (
            "signed by an unpublished key under a published kid",
            sign_as("attacker", Some("k1"), &good),
        ),
        (
            "oid not a member",
            sign("k1", &with("oid", json!(uuid::Uuid::new_v4().to_string()))),
        ),
        (
            "tenant not onboarded",
            sign("k1", &{
                let t = uuid::Uuid::new_v4().to_string();
                let mut c = claims(&t, &oid, "ann@a.example");
                c["iss"] = json!(format!("https://login.microsoftonline.com/{t}/v2.0"));
                c
            }),
        ),
        (
            "tid not a GUID",
            sign("k1", &with("tid", json!("contoso.onmicrosoft.com"))),
        ),
    ];
    for (case, token) in &cases {
        w.refused(case, w.bearer(token), UNAUTHORIZED, "UNAUTHORIZED")
            .await;
    }
    // Tampered payload: a valid signature over other claims.
    let valid = sign("k1", &good);
    let parts: Vec<&str> = valid.split('.').collect();
    let other = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        with("oid", json!(viewer_oid)).to_string(),
    );
    let tampered = format!("{}.{other}.{}", parts[0], parts[2]);
    w.refused(
        "tampered payload (oid swapped)",
        w.bearer(&tampered),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;

    // Valid token for org A naming org B.
    let req = w
        .bearer(&sign("k1", &good))
        .header("x-organization-id", b.to_string());
    let problem = w
        .refused(
            "token for A, x-organization-id of B",
            req,
            StatusCode::FORBIDDEN,
            "ORG_MISMATCH",
        )
        .await;
    // The detail names the credential actually used.
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("Entra ID token") && !detail.contains("API key"),
        "{detail}"
    );
    // A viewer's valid token cannot write.
    w.refused(
        "valid viewer token writes",
        w.bearer(&sign("k1", &claims(&tid_a, &viewer_oid, "val@a.example"))),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    // Unknown kid: exactly one refresh, then 401; a flood of unknown kids refreshes no more.
    clock.advance_secs(61);
    let before = entra.hits();
    w.refused(
        "unknown kid",
        w.bearer(&sign("k2", &good)),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    assert_eq!(entra.hits(), before + 1, "one refresh for the unknown kid");
    for n in 0..20 {
        let t = sign_as("k2", Some(&format!("made-up-{n}")), &good);
        let (s, _) = json_of(w.bearer(&t).send().await.unwrap()).await;
        assert_eq!(s, UNAUTHORIZED);
    }
    assert_eq!(
        entra.hits(),
        before + 1,
        "the refresh floor holds against a kid flood"
    );

    // Removing the membership ends Entra access at once.
    let (_, ex_oid) = w
        .app
        .entra_member(a, &tid_a, "ex@a.example", Role::Admin)
        .await;
    let ex_token = sign("k1", &claims(&tid_a, &ex_oid, "ex@a.example"));
    w.accepted("member before removal", w.bearer(&ex_token))
        .await;
    let owner = w.app.member(a, "owner@a.example", Role::OrgAdmin).await;
    let members: Value = w
        .app
        .req(Method::GET, "/api/members", &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ex_user = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "ex@a.example")
        .unwrap()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = w
        .app
        .status(Method::DELETE, &format!("/api/members/{ex_user}"), &owner)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    w.refused(
        "token of a removed member",
        w.bearer(&ex_token),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;

    // First sign-in: an address without an account, invited, signs in through Entra ID
    // with that UPN; that is its acceptance, once.
    let invite: Value = w
        .app
        .req(Method::POST, "/api/members", &owner)
        .json(&json!({ "email": "new@a.example", "role": "admin" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(invite["status"], "pending");
    let new_oid = uuid::Uuid::new_v4().to_string();
    w.accepted(
        "first sign-in links an invited member",
        w.bearer(&sign("k1", &claims(&tid_a, &new_oid, "NEW@a.example"))),
    )
    .await;
    let link = w
        .app
        .audit_entries(a)
        .await
        .into_iter()
        .find(|e| e["entityType"] == "user" && e["changes"]["entraOid"].is_object())
        .unwrap();
    assert_eq!(link["changes"]["entraOid"]["after"], new_oid.as_str());
    let squatter = uuid::Uuid::new_v4().to_string();
    w.refused(
        "a second oid claiming a linked member's UPN",
        w.bearer(&sign("k1", &claims(&tid_a, &squatter, "new@a.example"))),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    // A member the operator added by e-mail alone (no password, no oid) is linked by its
    // first sign-in, as before invitations existed.
    w.app
        .service
        .admin_create_user(
            &operator(),
            AdminOrgRef(&a.to_string()),
            "legacy@a.example",
            Role::Admin,
            None,
            None,
        )
        .await
        .unwrap();
    let legacy_oid = uuid::Uuid::new_v4().to_string();
    w.accepted(
        "first sign-in links a member added by the operator",
        w.bearer(&sign(
            "k1",
            &claims(&tid_a, &legacy_oid, "legacy@a.example"),
        )),
    )
    .await;
    assert!(
        w.app
            .audit_entries(a)
            .await
            .iter()
            .any(|e| e["entityType"] == "user"
                && e["action"] == "update"
                && e["changes"]["entraOid"]["after"] == legacy_oid.as_str())
    );
    // A member with a local password is never linked by UPN.
    let a_ref = a.to_string();
    w.app
        .service
        .admin_create_user(
            &operator(),
            AdminOrgRef(&a_ref),
            "local@a.example",
            Role::Admin,
            Some("a local password!"),
            None,
        )
        .await
        .unwrap();
    w.refused(
        "UPN of a password account",
        w.bearer(&sign(
            "k1",
            &claims(&tid_a, &uuid::Uuid::new_v4().to_string(), "local@a.example"),
        )),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    // The same UPN from another tenant links nothing.
    w.refused(
        "invited UPN from another tenant",
        w.bearer(&sign(
            "k1",
            &claims(&tid_b, &uuid::Uuid::new_v4().to_string(), "new@a.example"),
        )),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;

    w.report("Entra ID tokens");
    assert!(w.refused.load(Ordering::SeqCst) >= 25);
}

/// Microsoft rotates keys: a token signed with a newly published key works after one refresh.
async fn entra_key_rotation(db: TestDb) {
    let entra = FakeEntra::start().await;
    let mut cfg = entra_config(&entra);
    cfg.refresh_floor = std::time::Duration::ZERO;
    let app = TestApp::spawn_configured(db, |c| c.entra = Some(cfg)).await;
    let (a, tid) = app.entra_org("Org A").await;
    let (_, oid) = app
        .entra_member(a, &tid, "ann@a.example", Role::Admin)
        .await;
    let w = World::new(app, vec![a]);
    let rotated = sign("k2", &claims(&tid, &oid, "ann@a.example"));
    w.refused(
        "key not yet published",
        w.bearer(&rotated),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    entra.publish(&["k1", "k2"]);
    w.accepted("newly published key", w.bearer(&rotated)).await;
    entra.publish(&["k2"]);
    w.accepted("cached key set still serves k2", w.bearer(&rotated))
        .await;
}

async fn local_token_and_key_attacks(db: TestDb) {
    let clock = clock_at_now();
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let a = app.org("Org A").await;
    let b = app.org("Org B").await;
    let c = app.org("Org C").await;
    let (a_ref, b_ref) = (a.to_string(), b.to_string());
    let op = operator();
    app.service
        .admin_create_user(
            &op,
            AdminOrgRef(&a_ref),
            "ann@example.com",
            Role::Admin,
            Some("correct horse battery"),
            None,
        )
        .await
        .unwrap();
    app.service
        .admin_create_user(
            &op,
            AdminOrgRef(&b_ref),
            "ann@example.com",
            Role::Admin,
            None,
            None,
        )
        .await
        .unwrap();
    let w = World::new(app, vec![a, b, c]);
    let login = |password: &'static str| {
        let app = &w.app;
        async move {
            let res = app
                .client
                .post(app.url("/api/auth/login"))
                .json(&json!({ "email": "ann@example.com", "password": password }))
                .send()
                .await
                .unwrap();
            res.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let token = login("correct horse battery").await;
    let with_org =
        |req: RequestBuilder, org: OrgId| req.header("x-organization-id", org.to_string());
    w.accepted("valid session token", with_org(w.bearer(&token), a))
        .await;

    // Forged session tokens.
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let cases: Vec<(&str, String)> = vec![
        (
            "session alg none",
            raw_token(&json!({ "alg": "none", "typ": "JWT" }), &payload, b""),
        ),
        (
            "session signed with another secret",
            hs256(
                &payload,
                b"not-the-server-secret-not-the-server-secret",
                None,
            ),
        ),
        ("session payload edited (sub)", {
            let mut p = payload.clone();
            p["sub"] = json!(uuid::Uuid::new_v4().to_string());
            let parts: Vec<&str> = token.split('.').collect();
            format!(
                "{}.{}.{}",
                parts[0],
                base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    p.to_string()
                ),
                parts[2]
            )
        }),
        (
            "session RS256-signed with an attacker key",
            sign("attacker", &payload),
        ),
        ("not a JWT in Bearer", "definitely-not-a-jwt".into()),
        ("JWT with empty segments", "..".into()),
    ];
    for (case, t) in &cases {
        w.refused(case, with_org(w.bearer(t), a), UNAUTHORIZED, "UNAUTHORIZED")
            .await;
    }
    // Replay after a password change and after "sign out everywhere".
    clock.advance_secs(1);
    let res = w.app.client.post(w.app.url("/api/auth/password")).bearer_auth(&token)
        .json(&json!({ "currentPassword": "correct horse battery", "newPassword": "an even better passphrase" })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    w.refused(
        "session replayed after password change",
        with_org(w.bearer(&token), a),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    w.accepted(
        "the token from the password change",
        with_org(w.bearer(&fresh), a),
    )
    .await;
    clock.advance_secs(1);
    let res = w
        .app
        .client
        .post(w.app.url("/api/auth/logout-all"))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    w.refused(
        "session replayed after sign-out everywhere",
        with_org(w.bearer(&fresh), a),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;

    // API keys.
    let key = |org: Option<&str>, role: Option<Role>, expires: Option<Timestamp>| {
        let svc = w.app.service.clone();
        let org = org.map(str::to_owned);
        async move {
            svc.admin_create_api_key(
                &operator(),
                "ann@example.com",
                org.as_deref().map(AdminOrgRef),
                "k",
                role,
                expires,
            )
            .await
            .unwrap()
        }
    };
    let bound_a = key(Some(&a_ref), None, None).await.key;
    let unbound = key(None, None, None).await.key;
    let ro = key(Some(&a_ref), Some(Role::Viewer), None).await.key;
    let expiring = key(
        Some(&a_ref),
        None,
        Some(w.app.service.now().plus_seconds(1)),
    )
    .await
    .key;
    let api = |k: &str| w.post(("x-api-key", k.to_owned()));
    w.accepted("bound key", api(&bound_a)).await;
    w.refused(
        "bound key naming another org",
        with_org(api(&bound_a), b),
        StatusCode::FORBIDDEN,
        "ORG_MISMATCH",
    )
    .await;
    w.refused(
        "bound key naming an org nobody shares",
        with_org(api(&bound_a), c),
        StatusCode::FORBIDDEN,
        "ORG_MISMATCH",
    )
    .await;
    w.refused(
        "unbound key without an org",
        api(&unbound),
        StatusCode::BAD_REQUEST,
        "AMBIGUOUS_ORG",
    )
    .await;
    w.refused(
        "unbound key escalating into a foreign org",
        with_org(api(&unbound), c),
        StatusCode::FORBIDDEN,
        "NOT_A_MEMBER",
    )
    .await;
    w.accepted("unbound key in one of its orgs", with_org(api(&unbound), b))
        .await;
    w.refused(
        "key with a lowered role writes",
        api(&ro),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    // Revocation takes effect at once.
    let owner = w.app.member(a, "owner@example.com", Role::OrgAdmin).await;
    let keys: Value = w
        .app
        .req(Method::GET, "/api/api-keys", &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let prefix = &bound_a[..10];
    let id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["prefix"] == prefix)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = w
        .app
        .status(Method::DELETE, &format!("/api/api-keys/{id}"), &owner)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    w.refused("revoked key", api(&bound_a), UNAUTHORIZED, "UNAUTHORIZED")
        .await;
    clock.advance_secs(2);
    w.refused("expired key", api(&expiring), UNAUTHORIZED, "UNAUTHORIZED")
        .await;
    let malformed = [
        ("wrong prefix", format!("tatr_{}", &unbound[6..])),
        ("too short", unbound[..37].to_owned()),
        ("too long", format!("{unbound}0")),
        ("non-hex", format!("tater_{}", "g".repeat(32))),
        (
            "uppercase hex",
            unbound.to_uppercase().replace("TATER_", "tater_"),
        ),
        ("10 KB", "a".repeat(10 * 1024)),
        ("well-formed but unknown", tater_service::generate_api_key()),
    ];
    for (case, k) in &malformed {
        w.refused(
            &format!("malformed key: {case}"),
            api(k),
            UNAUTHORIZED,
            "UNAUTHORIZED",
        )
        .await;
    }
    w.refused(
        "API key sent as a bearer token",
        w.bearer(&unbound),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    w.refused(
        "session token sent as an API key",
        api(&fresh),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    w.refused(
        "no credential",
        w.app
            .client
            .post(w.app.url("/api/poam"))
            .json(&sample("poam", 1)),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    w.report("local tokens and API keys");
    assert!(w.refused.load(Ordering::SeqCst) >= 25);
}

/// A token verified once is not RSA-checked again, but its expiry still applies on every use.
async fn entra_verdicts_are_cached_but_tokens_still_expire(db: TestDb) {
    let clock = clock_at_now();
    let app = TestApp::spawn_with(db, clock.clone()).await;
    let (a, tid) = app.entra_org("Org A").await;
    let (key, _) = app
        .entra_member(a, &tid, "ann@a.example", Role::Admin)
        .await;
    let w = World::new(app, vec![a]);
    for _ in 0..3 {
        w.accepted("cached verdict", w.post((key.header, key.value.clone())))
            .await;
    }
    // Past exp (600 s after signing) plus the 60 s leeway, with room for a slow setup: the
    // token was signed by the real clock some seconds after this test's clock started.
    clock.advance_secs(600 + 61 + 300);
    w.refused(
        "the same token after exp + leeway",
        w.post((key.header, key.value.clone())),
        UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}

/// What an attack from outside the code found (issue 21), replayed: each attempt is refused
/// and changes no organization.
async fn outside_attack_findings(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let home = app.org("Home").await;
    let hostile = app.org("Hostile").await;
    let w = World::new(app, vec![home, hostile]);
    let app = &w.app;
    let root = app
        .member(home, "root@home.example", Role::SuperAdmin)
        .await;
    let boss = app.member(home, "boss@home.example", Role::OrgAdmin).await;
    let admin = app.member(home, "admin@home.example", Role::Admin).await;
    let attacker = app
        .member(hostile, "boss@hostile.example", Role::OrgAdmin)
        .await;
    let victim = app.person(home, "victim@home.example", Role::Admin).await;
    let victim_key = app.api_key_of("victim@home.example", None).await;
    let key_id = |k: &Key| {
        let k = k.clone();
        async move {
            app.get("/api/me", &k).await.1["apiKey"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };

    // Enrollment takeover: a multi-use token holder re-enrolls an existing host.
    let token = token(app, &admin, false).await;
    let (_, real) = enroll(app, &token, "db-01").await;
    let body = json!({ "token": token, "hostname": "DB-01", "os": "linux", "osVersion": "x", "arch": "x86_64", "agentVersion": "6.6.6" });
    w.refused(
        "enrollment takeover by hostname",
        app.client.post(app.url("/api/agent/enroll")).json(&body),
        StatusCode::CONFLICT,
        "ENDPOINT_EXISTS",
    )
    .await;
    let real_agent = Key::api(real["apiKey"].as_str().unwrap().to_owned());
    assert_eq!(
        app.get("/api/agent/commands", &real_agent).await.0,
        StatusCode::OK
    );

    // Member capture: inviting an account of another organization links nothing.
    let victim_key_id = key_id(&victim_key).await;
    let invite = app
        .req(Method::POST, "/api/members", &attacker)
        .json(&json!({ "email": "victim@home.example", "role": "viewer" }));
    let (s, answer) = json_of(invite.send().await.unwrap()).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(answer.get("hasPassword").is_none() && answer.get("userId").is_none());
    assert_eq!(
        app.get("/api/poam", &victim).await.0,
        StatusCode::OK,
        "no AMBIGUOUS_ORG"
    );
    let (_, listed) = app.get("/api/api-keys", &attacker).await;
    assert!(!listed.to_string().contains(&victim_key_id));
    w.refused(
        "revoking another organization's member's unbound key",
        app.req(
            Method::DELETE,
            &format!("/api/api-keys/{victim_key_id}"),
            &attacker,
        ),
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    // Rank on keys: an OrgAdmin revoking a SuperAdmin's key.
    let root_key = key_id(&root).await;
    w.refused(
        "revoking a SuperAdmin's key",
        app.req(Method::DELETE, &format!("/api/api-keys/{root_key}"), &boss),
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_eq!(app.get("/api/poam", &root).await.0, StatusCode::OK);

    // Kill switch: a command queued while remote execution was on never runs after it is off,
    // however the agent asks.
    let on = json!({ "remoteExecution": true });
    app.send(Method::PUT, "/api/settings", &boss, &on).await;
    let script = app
        .create(
            "scripts",
            &admin,
            json!({ "name": "s", "language": "bash", "riskLevel": "High", "timeoutSecs": 30, "content": "cat /etc/shadow" }),
        )
        .await;
    let (s, job) = app
        .send(
            Method::POST,
            &format!("/api/scripts/{}/execute", script["id"].as_str().unwrap()),
            &admin,
            &json!({ "targets": ["db-01"] }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{job}");
    let off = json!({ "remoteExecution": false });
    app.send(Method::PUT, "/api/settings", &boss, &off).await;
    for _ in 0..3 {
        let (s, got) = app.get("/api/agent/commands", &real_agent).await;
        assert_eq!(
            (s, got["items"].as_array().map(Vec::len)),
            (StatusCode::OK, Some(0))
        );
    }
    let result = format!("/api/agent/commands/{}/result", job["id"].as_str().unwrap());
    w.refused(
        "reporting a cancelled command as run",
        app.req(Method::POST, &result, &real_agent)
            .json(&json!({ "status": "succeeded", "exitCode": 0, "stdout": "root:x:..." })),
        // Its own target, ended by the server: a conflict (it takes no result), not a run.
        StatusCode::CONFLICT,
        "CONFLICT",
    )
    .await;
    w.report("outside attack findings");
}
