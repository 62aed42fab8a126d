use std::sync::Arc;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tater_domain::{OrgId, Role};
use tater_domain::{Permit, SystemPurpose};
use tater_server::rate_limit::RateLimitConfig;
use tater_server::{App, AppConfig};
use tater_service::{AdminOrgRef, Clock, Service, SystemClock, SystemOperator};
use tater_store::{AuditQuery, Mode};
use tater_testkit::TestDb;
use tater_testkit::entra::FakeEntra;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server for one test.
pub struct TestApp {
    /// The Entra ID stand-in this server trusts (a local JWKS).
    pub entra: tater_testkit::entra::FakeEntra,
    /// Entra tenant of each organization created with [`TestApp::org`].
    tids: std::sync::Mutex<std::collections::HashMap<OrgId, String>>,
    pub base: String,
    /// The metrics listener's address, when the configuration asked for one.
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub client: reqwest::Client,
    pub service: Service,
    /// Kept so the database outlives the server.
    _db: Option<TestDb>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

pub fn operator() -> SystemOperator {
    SystemOperator {
        name: "test",
        detail: "test-suite".into(),
    }
}

pub fn config(db: &TestDb, clock: Arc<dyn Clock>) -> AppConfig {
    config_with(&db.url, clock)
}

/// The test configuration for a database that outlives one server (restart tests).
pub fn config_for_url(url: &str) -> AppConfig {
    config_with(url, Arc::new(SystemClock))
}

fn config_with(url: &str, clock: Arc<dyn Clock>) -> AppConfig {
    let mut c = AppConfig::for_tests(url);
    c.clock = clock;
    // Limits are configuration: the suite raises them so it never trips them by accident;
    // the rate-limit tests set real ones.
    c.rate_limits = RateLimitConfig {
        limits: unlimited(),
        ..Default::default()
    };
    c.siem = Some(test_siem());
    c
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, Arc::new(SystemClock)).await
    }

    pub async fn spawn_with(db: TestDb, clock: Arc<dyn Clock>) -> Self {
        let entra = tater_testkit::entra::FakeEntra::start().await;
        let mut cfg = config(&db, clock);
        cfg.entra = Some(entra_config(&entra));
        let app = App::build(cfg).await.expect("app builds");
        Self::start(app, Some(db), entra)
    }

    /// A server whose configuration `adjust` changes first (Entra ID, rate limits, ...).
    pub async fn spawn_configured(db: TestDb, adjust: impl FnOnce(&mut AppConfig)) -> Self {
        let entra = tater_testkit::entra::FakeEntra::start().await;
        let mut cfg = config(&db, Arc::new(SystemClock));
        cfg.entra = Some(entra_config(&entra));
        adjust(&mut cfg);
        let app = App::build(cfg).await.expect("app builds");
        Self::start(app, Some(db), entra)
    }

    /// A server whose web application offers "Sign in with Microsoft" through the stand-in:
    /// its public URL is its own loopback address (the redirect URI needs one before the
    /// server starts, so the port is picked first).
    pub async fn spawn_with_entra_sign_in(db: TestDb, clock: Arc<dyn Clock>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let public_url = format!("http://127.0.0.1:{port}");
        let entra = tater_testkit::entra::FakeEntra::start().await;
        let mut cfg = config(&db, clock);
        cfg.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        cfg.public_url = Some(public_url.clone());
        cfg.entra = Some(tater_service::EntraConfig {
            sign_in: Some(entra_sign_in_config(&entra, &public_url)),
            ..entra_config(&entra)
        });
        let app = App::build(cfg).await.expect("app builds");
        Self::start(app, Some(db), entra)
    }

    /// An organization onboarded for a fresh Entra ID tenant; returns its id and the `tid`.
    pub async fn entra_org(&self, name: &str) -> (OrgId, String) {
        let tid = uuid::Uuid::new_v4().to_string();
        let org = self
            .service
            .admin_create_org(&operator(), name, Some(&tid))
            .await
            .unwrap()
            .id;
        self.tids.lock().unwrap().insert(org, tid.clone());
        (org, tid)
    }

    /// A member who signs in through Entra ID; returns a valid token (signed with `k1`) and
    /// the member's `oid`.
    pub async fn entra_member(
        &self,
        org: OrgId,
        tid: &str,
        email: &str,
        role: Role,
    ) -> (Key, String) {
        let oid = uuid::Uuid::new_v4().to_string();
        let org_ref = org.to_string();
        self.service
            .admin_create_user(
                &operator(),
                AdminOrgRef(&org_ref),
                email,
                role,
                None,
                Some(&oid),
            )
            .await
            .unwrap();
        let token =
            tater_testkit::entra::sign("k1", &tater_testkit::entra::claims(tid, &oid, email));
        (Key::bearer(&token), oid)
    }

    /// Serves an already built app; `db` is kept alive as long as the server.
    pub fn start(app: App, db: Option<TestDb>, entra: tater_testkit::entra::FakeEntra) -> Self {
        let base = format!("http://{}", app.addr);
        let metrics_addr = app.metrics_addr;
        let service = app.service.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Self {
            entra,
            tids: Default::default(),
            base,
            metrics_addr,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            service,
            _db: db,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops accepting and waits for in-flight requests.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    /// An organization, onboarded for its own Entra ID tenant so members can use either kind
    /// of credential.
    pub async fn org(&self, name: &str) -> OrgId {
        self.entra_org(name).await.0
    }

    /// A member of `org` with `role`, and a credential of the given kind.
    pub async fn member_as(&self, cred: Cred, org: OrgId, email: &str, role: Role) -> Key {
        match cred {
            Cred::ApiKey => self.member(org, email, role).await,
            Cred::Entra => {
                let tid = self
                    .tids
                    .lock()
                    .unwrap()
                    .get(&org)
                    .cloned()
                    .expect("org made by TestApp::org");
                self.entra_member(org, &tid, email, role).await.0
            }
        }
    }

    /// A new member of `org` with `role` and a key bound to `org`.
    pub async fn member(&self, org: OrgId, email: &str, role: Role) -> Key {
        let org_ref = org.to_string();
        self.service
            .admin_create_user(&operator(), AdminOrgRef(&org_ref), email, role, None, None)
            .await
            .unwrap();
        self.api_key_of(email, Some(org)).await
    }

    /// A member of `org` with a password, signed in: a session token (which, unlike a bound
    /// key, acts for the person in every organization they belong to).
    pub async fn person(&self, org: OrgId, email: &str, role: Role) -> Key {
        let org_ref = org.to_string();
        self.service
            .admin_create_user(
                &operator(),
                AdminOrgRef(&org_ref),
                email,
                role,
                Some(TEST_PASSWORD),
                None,
            )
            .await
            .unwrap();
        self.login(email).await
    }

    /// A session token for an account made by [`TestApp::person`].
    pub async fn login(&self, email: &str) -> Key {
        let res = self
            .client
            .post(self.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": TEST_PASSWORD }))
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(res).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        Key::bearer(v["token"].as_str().unwrap())
    }

    /// The caller's open invitations (`GET /api/invitations`).
    pub async fn invitations(&self, key: &Key) -> Vec<Value> {
        let (s, v) = self.get("/api/invitations", key).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["items"].as_array().unwrap().clone()
    }

    /// Accepts the caller's invitation into `org`.
    pub async fn accept_invitation(&self, key: &Key, org: OrgId) -> Value {
        let id = self
            .invitations(key)
            .await
            .into_iter()
            .find(|i| i["orgId"] == org.to_string())
            .expect("an invitation into that organization")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = self
            .req(Method::POST, &format!("/api/invitations/{id}/accept"), key)
            .send()
            .await
            .unwrap();
        let (s, v) = json_of(res).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v
    }

    /// `person` (signed in as `email`) joins `org` with `role`: invited by `inviter`, an
    /// OrgAdmin there, and accepted.
    pub async fn join(&self, inviter: &Key, person: &Key, email: &str, org: OrgId, role: &str) {
        let (s, v) = self
            .send(
                Method::POST,
                "/api/members",
                inviter,
                &json!({ "email": email, "role": role }),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        self.accept_invitation(person, org).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: Method, path: &str, key: &Key) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(key.header, &key.value)
    }

    /// A request without a body: its status and JSON.
    pub async fn call(&self, method: Method, path: &str, key: &Key) -> (StatusCode, Value) {
        json_of(self.req(method, path, key).send().await.unwrap()).await
    }

    /// An API key for the account `email` made by the operator: bound to `org`, or unbound.
    pub async fn api_key_of(&self, email: &str, org: Option<OrgId>) -> Key {
        let org_ref = org.map(|o| o.to_string());
        let key = self
            .service
            .admin_create_api_key(
                &operator(),
                email,
                org_ref.as_deref().map(AdminOrgRef),
                "test",
                None,
                None,
            )
            .await
            .unwrap();
        Key::api(key.key)
    }

    /// The status of a request without a body.
    pub async fn status(&self, method: Method, path: &str, key: &Key) -> StatusCode {
        self.req(method, path, key).send().await.unwrap().status()
    }

    pub async fn get(&self, path: &str, key: &Key) -> (StatusCode, Value) {
        json_of(self.req(Method::GET, path, key).send().await.unwrap()).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: &Key,
        body: &Value,
    ) -> (StatusCode, Value) {
        json_of(self.req(method, path, key).json(body).send().await.unwrap()).await
    }

    pub async fn create(&self, module: &str, key: &Key, body: Value) -> Value {
        let (status, v) = self
            .send(Method::POST, &format!("/api/{module}"), key, &body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }

    /// Every record of every module and the audit log of `org`, read through the store, to
    /// prove that something changed nothing.
    pub async fn snapshot(&self, org: OrgId) -> Value {
        let permit = Permit::system(org, SystemPurpose::Inspection, Mode::Read);
        let mut tx = self.service.store().tenant(&permit).await.unwrap();
        let mut out = serde_json::Map::new();
        for def in tater_domain::modules::ALL {
            let q = tater_domain::module::parse_list_query(
                def,
                &[("limit".into(), "500".into())],
                time::macros::date!(2026 - 01 - 01),
                &[],
            )
            .unwrap();
            let rows = tx.list_records(def.name, &q).await.unwrap();
            let rows: Vec<Value> = rows
                .iter()
                .map(
                    |r| json!({ "id": r.meta.id.to_string(), "v": r.meta.version, "data": r.data }),
                )
                .collect();
            out.insert(def.name.into(), Value::Array(rows));
        }
        // The chain's last sequence number: every audited write moves it, however long the
        // trail (a count of listed entries would stop at the listing's page size).
        let (last_seq, _) = tx.audit_head().await.unwrap();
        out.insert("auditSeq".into(), json!(last_seq));
        Value::Object(out)
    }

    pub async fn audit_entries(&self, org: OrgId) -> Vec<Value> {
        let permit = Permit::system(org, SystemPurpose::Inspection, Mode::Read);
        let mut tx = self.service.store().tenant(&permit).await.unwrap();
        let audit = tx
            .list_audit(&AuditQuery {
                limit: 500,
                ..Default::default()
            })
            .await
            .unwrap();
        audit.iter().map(tater_audit::entry_json).collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The password of accounts made by [`TestApp::person`].
pub const TEST_PASSWORD: &str = "a long enough test password";

/// A credential to call with: an API key or a bearer token.
#[derive(Clone)]
pub struct Key {
    pub header: &'static str,
    pub value: String,
}

impl Key {
    pub fn api(key: String) -> Self {
        Self {
            header: "x-api-key",
            value: key,
        }
    }

    pub fn bearer(token: &str) -> Self {
        Self {
            header: "authorization",
            value: format!("Bearer {token}"),
        }
    }
}

pub async fn json_of(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, v)
}

/// A valid body for each module, so tests can loop over all of them.
pub fn sample(module: &str, n: usize) -> Value {
    match module {
        "poam" => {
            json!({ "title": format!("POAM {n}"), "weaknessDescription": "weakness", "impact": "High",
                          "scheduledCompletion": "2030-01-01", "controls": ["AC-2"] })
        }
        "risks" => {
            json!({ "title": format!("Risk {n}"), "likelihood": 3, "impact": 4, "sle": 1000, "aro": 0.5 })
        }
        "config-docs" => json!({ "title": format!("Doc {n}"), "body": "# hello", "tags": ["t"] }),
        "risk-acceptances" => {
            json!({ "control": "AC-2", "justification": format!("Accepted {n}"), "expires": in_days(30) })
        }
        "scripts" => json!({ "name": format!("Script {n}"), "language": "bash", "riskLevel": "Low",
                              "timeoutSecs": 60, "content": "echo hello" }),
        "tasks" => {
            json!({ "title": format!("Task {n}"), "priority": "High", "assignee": "ann@example.com",
                           "dueDate": in_days(7), "controls": ["AC-2"] })
        }
        "evidence" => {
            json!({ "title": format!("Evidence {n}"), "description": "Access review minutes",
                              "controls": ["AC-2"], "collectedOn": in_days(-1), "validUntil": in_days(365) })
        }
        "exceptions" => {
            json!({ "title": format!("Exception {n}"), "control": "AC-2", "riskLevel": "Moderate",
                    "justification": "Legacy system", "requestedUntil": in_days(60) })
        }
        "audits" => {
            json!({ "title": format!("Audit {n}"), "framework": "CMMC", "periodStart": in_days(-30),
                    "periodEnd": in_days(30), "scope": ["AC-2"], "leadAuditor": "lead@example.com" })
        }
        "findings" => {
            json!({ "title": format!("Finding {n}"), "severity": "High", "control": "AC-2",
                    "description": "Stale accounts", "recommendation": "Review accounts monthly",
                    "owner": "ann@example.com", "dueDate": in_days(30) })
        }
        "policies" => {
            json!({ "title": format!("Policy {n}"), "category": "Access Control",
                    "owner": "ciso@example.com", "effectiveDate": in_days(0),
                    "reviewBy": in_days(365), "controls": ["AC-1"],
                    "body": "# Purpose\n\nAccounts are **reviewed** every quarter." })
        }
        "people" => {
            json!({ "name": format!("Person {n}"), "email": format!("person{n}@example.com"),
                            "department": "Security" })
        }
        "bcp-plans" => json!({ "title": format!("Plan {n}"), "scope": "HQ operations",
            "owner": "ann@example.com", "status": "Active", "rtoHours": 4, "rpoHours": 1,
            "criticalProcesses": ["payroll"], "nextTest": in_days(90), "nextReview": in_days(180),
            "controls": ["CP-2"] }),
        "bcp-exercises" => json!({ "title": format!("Exercise {n}"), "exerciseType": "Tabletop",
            "heldOn": in_days(-3), "result": "Passed with findings", "findings": "Call tree out of date" }),
        "data-labels" => {
            json!({ "name": format!("Label {n}"), "rank": 3, "description": "Customer data",
            "controls": ["MP-3"] })
        }
        "data-assets" => json!({ "name": format!("Asset {n}"), "owner": "ann@example.com",
            "location": "eu-west-1", "retentionDays": 2555, "dataTypes": ["PII"] }),
        "training-courses" => json!({ "title": format!("Course {n}"), "provider": "In-house",
            "durationMinutes": 45, "frequency": "Annual", "controls": ["AT-2"] }),
        "training-campaigns" => json!({ "title": format!("Campaign {n}"), "audience": "Members",
            "startDate": in_days(0), "dueDate": in_days(30), "owner": "ann@example.com" }),
        "training-assignments" => json!({ "assignee": "ann@example.com", "dueDate": in_days(30),
            "status": "In Progress", "notes": format!("Assignment {n}") }),
        "control-test-procedures" => json!({ "title": format!("Procedure {n}"), "control": "AC-2",
            "method": "Examine", "steps": "Sample ten accounts", "frequency": "Quarterly" }),
        "control-test-runs" => json!({ "control": "AC-2", "tester": "ann@example.com",
            "testedOn": in_days(-1), "result": "Satisfied", "notes": format!("Run {n}") }),
        "vendors" => json!({ "name": format!("Vendor {n}"), "riskTier": "High", "status": "Active",
            "services": "Payroll", "dataShared": ["PII"], "contractStart": in_days(-100),
            "contractEnd": in_days(265), "owner": "ann@example.com", "nextAssessment": in_days(60) }),
        "vendor-assessments" => {
            json!({ "title": format!("Assessment {n}"), "assessor": "ann@example.com",
            "assessedOn": in_days(-2), "riskTier": "Medium", "result": "Approved" })
        }
        "questionnaire-templates" => {
            json!({ "title": format!("Template {n}"), "description": "SIG lite",
            "tags": ["vendor"] })
        }
        "questionnaire-responses" => json!({ "title": format!("Response {n}"), "scope": "Internal",
            "respondent": "ann@example.com" }),
        "change-requests" => {
            json!({ "title": format!("Change {n}"), "changeType": "Normal", "risk": "Low",
            "description": "Patch the web tier", "windowStart": in_days(7), "windowEnd": in_days(8),
            "controls": ["CM-3"], "implementer": "ann@example.com" })
        }
        "cab-boards" => json!({ "name": format!("Board {n}"), "description": "Production changes",
            "approvalThreshold": 2 }),
        "regulatory-changes" => {
            json!({ "title": format!("Regulation {n}"), "regulation": "DFARS safeguarding clause",
            "jurisdiction": "US", "effectiveDate": in_days(90), "impact": "High", "controls": ["IR-6"] })
        }
        "access-reviews" => json!({ "title": format!("Review {n}"), "reviewer": "ann@example.com",
            "dueDate": in_days(14), "controls": ["AC-2"] }),
        "access-review-items" => json!({ "subject": format!("Account {n}"), "currentRole": "admin",
            "decision": "Keep" }),
        other => panic!("no sample for {other}"),
    }
}

/// A valid change to apply with PUT: the module's label field gets `Changed <n>`.
pub fn changed(module: &str, n: usize) -> Value {
    let mut body = sample(module, n);
    body[label_field(module)] = json!(format!("Changed {n}"));
    body
}

/// The field that names a record of the module (for tests that look for it).
pub fn label_field(module: &str) -> &'static str {
    match module {
        "risk-acceptances" => "justification",
        "scripts" | "people" | "data-labels" | "data-assets" | "vendors" | "cab-boards" => "name",
        "training-assignments" | "control-test-runs" => "notes",
        "access-review-items" => "subject",
        _ => "title",
    }
}

/// The date `days` from today, `YYYY-MM-DD`.
pub fn in_days(days: i64) -> String {
    let today = time::OffsetDateTime::now_utc().date();
    tater_domain::time::format_date(today + time::Duration::days(days))
}

pub fn modules() -> impl Iterator<Item = &'static str> {
    tater_domain::modules::ALL.iter().map(|m| m.name)
}

/// The module a use case acts on: the one it declares (`about`), or the module its name
/// starts with (`risks_link_delete`); the longest such name, so that no module is taken for
/// another whose name begins the same way. The isolation sweeps try a module's use cases with
/// the other organization's record of that module: a record is looked up by module and
/// organization together, so another module's record is never found, and trying it could not
/// show a missing organization condition.
pub fn module_of(case: &tater_service::use_cases::UseCase) -> Option<&'static str> {
    case.about.or_else(|| {
        modules()
            .filter(|m| case.name.starts_with(&format!("{}_", m.replace('-', "_"))))
            .max_by_key(|m| m.len())
    })
}

/// Runs `python3 -c script file` (an independent reader or validator) and returns what it
/// printed; fails the test with its error output when it fails.
pub fn python(script: &str, file: &std::path::Path) -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The wall clock shifted by an offset the test moves forward: time keeps running (retries
/// come due, workers make progress) and a test can still jump past a period without waiting.
#[derive(Default)]
pub struct ShiftedClock(std::sync::atomic::AtomicI64);

impl ShiftedClock {
    pub fn advance_secs(&self, secs: i64) {
        self.0
            .fetch_add(secs * 1000, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> tater_domain::Timestamp {
        let offset = self.0.load(std::sync::atomic::Ordering::SeqCst);
        SystemClock.now().plus_millis(offset)
    }
}

/// The server's Entra ID settings for the stand-in `entra`.
pub fn entra_config(entra: &FakeEntra) -> tater_service::EntraConfig {
    tater_service::EntraConfig {
        jwks_url: entra.jwks_url().to_owned(),
        audiences: tater_testkit::entra::AUDIENCES.map(str::to_owned).to_vec(),
        refresh_floor: std::time::Duration::from_secs(60),
        sign_in: None,
    }
}

/// "Sign in with Microsoft" through the stand-in, for a server at `public_url`.
pub fn entra_sign_in_config(
    entra: &FakeEntra,
    public_url: &str,
) -> tater_service::EntraSignInConfig {
    use tater_testkit::entra_sign_in::{CLIENT_ID, CLIENT_SECRET};
    tater_service::EntraSignInConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        authority: entra.authority.clone(),
        tenant: tater_service::DEFAULT_ENTRA_SIGN_IN_TENANT.into(),
        redirect_uri: format!("{public_url}{}", tater_service::ENTRA_CALLBACK_PATH),
    }
}

/// Limits no test run reaches.
pub fn unlimited() -> tater_server::rate_limit::Limits {
    tater_server::rate_limit::Limits {
        auth: 1_000_000,
        write: 1_000_000,
        settings: 1_000_000,
        general: 1_000_000,
    }
}

/// The kinds of credential the role matrix and isolation tests run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cred {
    ApiKey,
    Entra,
}

/// SIEM forwarding for tests: receivers on loopback are allowlisted and may be plain http;
/// the worker polls and backs off quickly.
pub fn test_siem() -> tater_server::app::SiemConfig {
    tater_server::app::SiemConfig {
        egress: tater_egress::EgressConfig {
            allow_http: true,
            allow: tater_egress::Allowlist::new(vec!["127.0.0.0/8".parse().unwrap()]),
            ..Default::default()
        },
        master_key: tater_siem::secret_box::SecretBox::generate_key_text(),
        failing_after_secs: 900,
        hostname: "tater-test".into(),
        worker: Some(tater_siem::worker::WorkerConfig {
            poll: std::time::Duration::from_millis(50),
            base_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_millis(1000),
            ..Default::default()
        }),
    }
}

/// An enrollment token made by `admin`.
pub async fn token(app: &TestApp, admin: &Key, single_use: bool) -> String {
    let (s, t) = app
        .send(
            Method::POST,
            "/api/enrollment-tokens",
            admin,
            &json!({ "label": "rollout", "singleUse": single_use }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

/// Enrolls `hostname` as an agent would: (status, {endpointId, apiKey}).
pub async fn enroll(app: &TestApp, token: &str, hostname: &str) -> (StatusCode, Value) {
    let body = json!({ "token": token, "hostname": hostname, "os": "linux", "osVersion": "Debian 12", "arch": "x86_64", "agentVersion": "0.1.0" });
    json_of(
        app.client
            .post(app.url("/api/agent/enroll"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A scan report with `(checkId, status)` results, evidence `check: status`.
pub fn report(scan_id: &str, finished: &str, results: &[(&str, &str)]) -> Value {
    let results: Vec<Value> = results
        .iter()
        .map(|(c, s)| json!({ "checkId": c, "status": s, "evidence": format!("{c}: {s}") }))
        .collect();
    json!({ "scanId": scan_id, "startedAt": finished, "finishedAt": finished, "results": results })
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
