//! Endpoints: enrollment tokens (Admin), enrollment by agents, and the endpoint inventory.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, Endpoint, EndpointId, EnrollmentToken, EnrollmentTokenId,
    ScanId, Timestamp, ValidationErrors,
};
use tater_store::{EndpointQuery, Mode};

use crate::auth::endpoint_actor;
use crate::secrets::{
    AGENT_CREDENTIAL_PREFIX, ENROLLMENT_TOKEN_PREFIX, display_prefix, generate_secret,
    hash_api_key, is_well_formed,
};
use crate::{Service, ServiceError, ServiceResult};

const MAX_TOKEN_HOURS: i64 = 24 * 30;
const MAX_TAGS: usize = 50;
const MAX_TOKEN_HOSTNAMES: usize = 500;
/// How long an Admin's allowance to re-enroll a hostname lasts.
const REENROLL_WINDOW_SECS: i64 = 3600;

/// What an agent sends to enroll.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnrollRequest {
    pub token: String,
    pub hostname: String,
    pub os: String,
    pub os_version: String,
    pub arch: String,
    pub agent_version: String,
}

/// What enrollment returns: shown once.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Enrolled {
    pub endpoint_id: EndpointId,
    /// The agent credential, shown this once.
    #[serde(rename = "apiKey")]
    pub credential: String,
}

/// An enrollment token as listed: never the token or its hash.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentTokenView {
    pub id: EnrollmentTokenId,
    pub label: String,
    /// The first characters of the token, to recognise it by.
    pub prefix: String,
    pub single_use: bool,
    pub uses: i64,
    pub status: TokenStatus,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Audit `userId` of the creator.
    pub created_by: String,
    /// The only hostnames the token enrolls; `null` for any.
    pub hostnames: Option<Vec<String>>,
}

/// A token just created: its record and, this once, the token itself.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CreatedEnrollmentToken {
    #[serde(flatten)]
    pub view: EnrollmentTokenView,
    /// Give it to the agent (`tater-agent enroll --token`); shown this once, never stored.
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    Used,
    Expired,
    Revoked,
}

fn token_view(t: &EnrollmentToken, now: Timestamp) -> EnrollmentTokenView {
    let status = if t.revoked_at.is_some() {
        TokenStatus::Revoked
    } else if t.single_use && t.uses > 0 {
        TokenStatus::Used
    } else if t.expires_at <= now {
        TokenStatus::Expired
    } else {
        TokenStatus::Active
    };
    EnrollmentTokenView {
        id: t.id,
        label: t.label.clone(),
        prefix: t.prefix.clone(),
        single_use: t.single_use,
        uses: t.uses,
        status,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
        created_by: t.created_by.clone(),
        hostnames: t.hostnames.clone(),
    }
}

/// An endpoint as the API shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: EndpointId,
    /// Lower-case; unique within the organization.
    pub hostname: String,
    pub os: String,
    pub os_version: String,
    pub arch: String,
    pub agent_version: String,
    pub tags: Vec<String>,
    /// `active`, or `retired` (its credential no longer works; its history stays).
    #[schemars(extend("enum" = ["active", "retired"]))]
    pub status: String,
    /// No contact within the stale window (`--stale-after-hours`).
    pub stale: bool,
    pub enrolled_at: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub last_scan_id: Option<ScanId>,
    /// The first characters of the agent credential; `null` once retired.
    pub credential_prefix: Option<String>,
    /// Until when the hostname may enroll again without the current credential.
    pub reenroll_allowed_until: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One endpoint with its latest scan (`GET /api/endpoints/{id}`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointDetail {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// The latest scan; absent before the first report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scan: Option<crate::scans::ScanView>,
}

/// An endpoint as the API shows it; `stale` when it has not reported a scan within the window.
pub fn endpoint_view(e: &Endpoint, stale: bool) -> EndpointView {
    EndpointView {
        id: e.id,
        hostname: e.hostname.clone(),
        os: e.os.clone(),
        os_version: e.os_version.clone(),
        arch: e.arch.clone(),
        agent_version: e.agent_version.clone(),
        tags: e.tags.clone(),
        status: e.status.clone(),
        stale,
        enrolled_at: e.enrolled_at,
        last_seen_at: e.last_seen_at,
        last_scan_id: e.last_scan_id,
        credential_prefix: e.credential_prefix.clone(),
        reenroll_allowed_until: e.reenroll_allowed_until,
        version: e.version,
        created_at: e.created_at,
        updated_at: e.updated_at,
    }
}

/// A short identifier field: trimmed, 1 to `max` characters of `[A-Za-z0-9._ ()+-]`.
fn short(errors: &mut ValidationErrors, field: &str, raw: &str, max: usize) -> String {
    let v = raw.trim();
    let ok = !v.is_empty()
        && v.chars().count() <= max
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-()+/:".contains(c));
    if !ok {
        errors.add(
            field,
            format!("must be 1 to {max} characters of letters, digits and . _ - ( ) + / :"),
        );
    }
    v.to_owned()
}

/// Hostnames are lower-cased DNS names (RFC 1123 labels).
fn hostname(errors: &mut ValidationErrors, raw: &str) -> String {
    let h = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !ok {
        errors.add(
            "hostname",
            "must be a host name (letters, digits, hyphens and dots)",
        );
    }
    h
}

/// An enrollment token's hostnames: 1 to 500 host names, lower-cased, without repeats.
fn token_hostnames(errors: &mut ValidationErrors, raw: &[String]) -> Vec<String> {
    if raw.is_empty() || raw.len() > MAX_TOKEN_HOSTNAMES {
        errors.add(
            "hostnames",
            format!("must list 1 to {MAX_TOKEN_HOSTNAMES} host names (leave it out for any)"),
        );
    }
    let mut out: Vec<String> = Vec::new();
    for h in raw.iter().take(MAX_TOKEN_HOSTNAMES) {
        let mut one = ValidationErrors::new();
        let h = hostname(&mut one, h);
        if one.is_empty() {
            if !out.contains(&h) {
                out.push(h);
            }
        } else {
            errors.add("hostnames", "every entry must be a host name");
            break;
        }
    }
    out
}

fn tags(errors: &mut ValidationErrors, raw: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if raw.len() > MAX_TAGS {
        errors.add("tags", format!("at most {MAX_TAGS} tags"));
    }
    for t in raw {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > 64 || t.chars().any(char::is_control) {
            errors.add("tags", "each tag must be 1 to 64 characters on one line");
        } else if !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
    }
    out
}

/// One answer whether the endpoint is active or retired: a token holder learns no more than
/// that the hostname is taken.
fn endpoint_exists(host: &str) -> ServiceError {
    ServiceError::ConflictCode(
        "ENDPOINT_EXISTS",
        format!(
            "an endpoint named {host} exists: re-enroll from that machine with its current credential (X-API-Key), or ask an Admin to allow one re-enrolment (POST /api/endpoints/{{id}}/allow-reenroll); a retired endpoint stays retired until an Admin deletes it"
        ),
    )
}

/// How re-enrolling an existing endpoint is justified, or why it is refused.
fn continuity(
    existing: &Endpoint,
    presented: Option<&str>,
    now: Timestamp,
) -> ServiceResult<&'static str> {
    if existing.status != "active" {
        return Err(endpoint_exists(&existing.hostname));
    }
    let holds_credential = match (presented, &existing.credential_hash) {
        (Some(c), Some(stored)) => {
            bool::from(hash_api_key(c.trim()).as_bytes().ct_eq(stored.as_bytes()))
        }
        _ => false,
    };
    if holds_credential {
        Ok("credential")
    } else if existing.reenroll_allowed_until.is_some_and(|t| t > now) {
        Ok("admin-allowance")
    } else {
        Err(endpoint_exists(&existing.hostname))
    }
}

impl Service {
    /// A token for enrolling endpoints; `hostnames` limits it to those hosts.
    pub async fn create_enrollment_token(
        &self,
        actor: &Actor,
        label: &str,
        expires_in_hours: Option<i64>,
        single_use: bool,
        hostnames: Option<&[String]>,
    ) -> ServiceResult<CreatedEnrollmentToken> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let mut errors = ValidationErrors::new();
        let hostnames = hostnames.map(|list| token_hostnames(&mut errors, list));
        let label = label.trim();
        if label.chars().count() > 200 || label.chars().any(char::is_control) {
            errors.add("label", "must be at most 200 characters on one line");
        }
        let hours = expires_in_hours.unwrap_or(24);
        if !(1..=MAX_TOKEN_HOURS).contains(&hours) {
            errors.add(
                "expiresInHours",
                format!("must be from 1 to {MAX_TOKEN_HOURS}"),
            );
        }
        errors.into_result(())?;
        let now = self.clock.now();
        let secret = generate_secret(ENROLLMENT_TOKEN_PREFIX);
        let token = EnrollmentToken {
            id: EnrollmentTokenId::generate(),
            org: actor.org(),
            token_hash: hash_api_key(&secret),
            prefix: display_prefix(&secret),
            label: label.to_owned(),
            single_use,
            uses: 0,
            created_at: now,
            expires_at: now.plus_seconds(hours * 3600),
            revoked_at: None,
            created_by: actor.audit_user_id(),
            hostnames,
        };
        let view = token_view(&token, now);
        let after = json!({ "label": token.label, "prefix": token.prefix, "singleUse": single_use, "expiresAt": token.expires_at, "hostnames": token.hostnames });
        let audit = AuditDraft::new(
            actor,
            AuditAction::Create,
            "enrollment-token",
            token.id,
            now,
        )
        .with_changes(None, Some(&after), &[]);
        let mut tx = self.store.tenant(&permit).await?;
        tx.insert_enrollment_token(&token, &audit).await?;
        tx.commit().await?;
        Ok(CreatedEnrollmentToken {
            view,
            token: secret,
        })
    }

    pub async fn list_enrollment_tokens(
        &self,
        actor: &Actor,
    ) -> ServiceResult<Vec<EnrollmentTokenView>> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let now = self.clock.now();
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(tx
            .enrollment_tokens()
            .await?
            .iter()
            .map(|t| token_view(t, now))
            .collect())
    }

    pub async fn revoke_enrollment_token(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id: EnrollmentTokenId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let now = self.clock.now();
        let audit = AuditDraft::new(actor, AuditAction::Delete, "enrollment-token", id, now)
            .with_changes(None, Some(&json!({ "revokedAt": now })), &[]);
        let mut tx = self.store.tenant(&permit).await?;
        tx.revoke_enrollment_token(id, now, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An agent enrolls its machine with a token. A hostname already enrolled in the
    /// organization is taken over only by proof of continuity: the agent presents the
    /// endpoint's current credential (`presented`), or an Admin allowed one re-enrolment
    /// within the last hour. Then it keeps its id, tags and history and gets a new credential;
    /// otherwise `409 ENDPOINT_EXISTS`. A retired endpoint stays retired. Every refusal of the
    /// token itself reads the same.
    pub async fn enroll(
        &self,
        req: &EnrollRequest,
        presented: Option<&str>,
    ) -> ServiceResult<Enrolled> {
        let mut errors = ValidationErrors::new();
        let host = hostname(&mut errors, &req.hostname);
        let os = short(&mut errors, "os", &req.os, 64);
        let os_version = short(&mut errors, "osVersion", &req.os_version, 64);
        let arch = short(&mut errors, "arch", &req.arch, 32);
        let agent_version = short(&mut errors, "agentVersion", &req.agent_version, 64);
        errors.into_result(())?;
        let refused = || {
            ServiceError::Unauthorized("the enrollment token is invalid, used, revoked or expired")
        };
        if !is_well_formed(ENROLLMENT_TOKEN_PREFIX, req.token.trim()) {
            return Err(refused());
        }
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let token = tx
            .enrollment_token_by_hash(&hash_api_key(req.token.trim()))
            .await?
            .ok_or_else(refused)?;
        if !token.usable(now) {
            return Err(refused());
        }
        crate::termination::ensure_open(&mut *tx, token.org).await?;
        if !token.allows_host(&host) {
            return Err(ServiceError::ForbiddenCode(
                "HOSTNAME_NOT_ALLOWED",
                "this enrollment token does not enroll that hostname".into(),
            ));
        }
        let existing = tx.endpoint_by_hostname(token.org, &host).await?;
        let proof = match &existing {
            None => None,
            Some(e) => Some(continuity(e, presented, now)?),
        };
        let credential = generate_secret(AGENT_CREDENTIAL_PREFIX);
        let endpoint = Endpoint {
            id: existing
                .as_ref()
                .map_or_else(EndpointId::generate, |e| e.id),
            org: token.org,
            hostname: host,
            os,
            os_version,
            arch,
            agent_version,
            tags: existing
                .as_ref()
                .map(|e| e.tags.clone())
                .unwrap_or_default(),
            status: "active".into(),
            credential_hash: Some(hash_api_key(&credential)),
            credential_prefix: Some(display_prefix(&credential)),
            enrolled_at: now,
            last_seen_at: Some(now),
            last_scan_id: existing.as_ref().and_then(|e| e.last_scan_id),
            reenroll_allowed_until: None,
            version: existing.as_ref().map_or(1, |e| e.version + 1),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
        };
        let view = |e: &Endpoint| json!({ "hostname": e.hostname, "os": e.os, "osVersion": e.os_version, "arch": e.arch, "agentVersion": e.agent_version, "status": e.status, "credentialPrefix": e.credential_prefix });
        let mut after = view(&endpoint);
        after["enrollmentToken"] = json!(token.id);
        if let Some(proof) = proof {
            after["reenrolledWith"] = json!(proof);
        }
        let action = if existing.is_some() {
            AuditAction::Update
        } else {
            AuditAction::Create
        };
        let audit = AuditDraft::new(
            &endpoint_actor(&endpoint),
            action,
            "endpoint",
            endpoint.id,
            now,
        )
        .with_changes(existing.as_ref().map(view).as_ref(), Some(&after), &[]);
        tx.enroll_endpoint(&token, &endpoint, existing.is_some(), &audit)
            .await
            .map_err(|e| match ServiceError::from(e) {
                ServiceError::Conflict(_) => refused(),
                // The endpoint changed under us (another re-enrolment used the allowance).
                ServiceError::NotFound => endpoint_exists(&endpoint.hostname),
                other => other,
            })?;
        tx.commit().await?;
        Ok(Enrolled {
            endpoint_id: endpoint.id,
            credential,
        })
    }

    /// Lets an agent enroll this endpoint's hostname again once within the next hour without
    /// its current credential (a reinstalled machine). Admin; audited.
    pub async fn allow_reenroll(&self, actor: &Actor, id: &str) -> ServiceResult<EndpointView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id: EndpointId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let until = self.clock.now().plus_seconds(REENROLL_WINDOW_SECS);
        {
            let mut tx = self.store.tenant(&permit.read_only()).await?;
            let e = tx.endpoint(id).await?.ok_or(ServiceError::NotFound)?;
            if e.status != "active" {
                return Err(ServiceError::ConflictCode(
                    "ENDPOINT_RETIRED",
                    "a retired endpoint stays retired; delete it to enroll the host anew".into(),
                ));
            }
        }
        self.change_endpoint(actor, &permit, id, None, |e| {
            e.reenroll_allowed_until = Some(until)
        })
        .await
    }

    /// The inventory: `status`, `q` (hostname), `stale`, `scanned`, `limit`, `cursor`.
    pub async fn list_endpoints(
        &self,
        actor: &Actor,
        input: &crate::use_cases::EndpointsQuery,
    ) -> ServiceResult<crate::Page<EndpointView>> {
        use crate::use_cases::EndpointStatusFilter;
        let permit = authorize(actor, Action::Read)?;
        let mut errors = ValidationErrors::new();
        let paging = crate::use_cases::Paging {
            limit: input.limit,
            cursor: None,
        };
        let mut q = EndpointQuery {
            limit: paging.page_size(&mut errors),
            status: input.status.map(|s| match s {
                EndpointStatusFilter::Active => "active".into(),
                EndpointStatusFilter::Retired => "retired".into(),
            }),
            ..Default::default()
        };
        match input.q.as_deref() {
            Some(s) if s.chars().count() > 200 => errors.add("q", "must be at most 200 characters"),
            Some(s) => q.q = Some(s.trim().to_ascii_lowercase()),
            None => {}
        }
        match input.cursor.as_deref() {
            Some(c) if c.len() > 253 => errors.add("cursor", "is not a cursor this server issued"),
            Some(c) => q.after_hostname = Some(c.to_owned()),
            None => {}
        }
        let (stale_filter, scanned_filter) = (input.stale, input.scanned);
        errors.into_result(())?;
        let now = self.clock.now();
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let mut items = Vec::new();
        let mut next_cursor = None;
        // The stale and scanned filters are applied here, so keep reading pages until this
        // one is full.
        'pages: loop {
            let page = tx.endpoints(&q).await?;
            let more = page.len() > q.limit as usize;
            for e in page.into_iter().take(q.limit as usize) {
                q.after_hostname = Some(e.hostname.clone());
                let stale = self.endpoint_is_stale(&e, now);
                if stale_filter.is_some_and(|want| want != stale)
                    || scanned_filter.is_some_and(|want| want != e.last_scan_id.is_some())
                {
                    continue;
                }
                if items.len() == q.limit as usize {
                    next_cursor = items.last().map(|v: &EndpointView| v.hostname.clone());
                    break 'pages;
                }
                items.push(endpoint_view(&e, stale));
            }
            if !more {
                break;
            }
        }
        Ok(crate::Page { items, next_cursor })
    }

    pub async fn get_endpoint(&self, actor: &Actor, id: &str) -> ServiceResult<EndpointDetail> {
        let permit = authorize(actor, Action::Read)?;
        let id: EndpointId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let e = tx.endpoint(id).await?.ok_or(ServiceError::NotFound)?;
        let last_scan = match e.last_scan_id {
            Some(scan_id) => tx.scan(scan_id).await?.map(|s| crate::scans::scan_view(&s)),
            None => None,
        };
        Ok(EndpointDetail {
            endpoint: endpoint_view(&e, self.endpoint_is_stale(&e, self.clock.now())),
            last_scan,
        })
    }

    /// Changes an endpoint's tags (the only field people edit; the rest comes from the agent).
    pub async fn update_endpoint_tags(
        &self,
        actor: &Actor,
        id: &str,
        new_tags: &[String],
        version: Option<i64>,
    ) -> ServiceResult<EndpointView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id: EndpointId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let mut errors = ValidationErrors::new();
        let new_tags = tags(&mut errors, new_tags);
        errors.into_result(())?;
        self.change_endpoint(actor, &permit, id, version, |e| e.tags = new_tags.clone())
            .await
    }

    /// Retires an endpoint: its credential stops working at once; its history stays.
    pub async fn retire_endpoint(&self, actor: &Actor, id: &str) -> ServiceResult<EndpointView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id: EndpointId = id.parse().map_err(|_| ServiceError::NotFound)?;
        self.change_endpoint(actor, &permit, id, None, |e| {
            e.status = "retired".into();
            e.credential_hash = None;
            e.credential_prefix = None;
            e.reenroll_allowed_until = None;
        })
        .await
    }

    async fn change_endpoint(
        &self,
        actor: &Actor,
        permit: &Permit,
        id: EndpointId,
        version: Option<i64>,
        change: impl Fn(&mut Endpoint),
    ) -> ServiceResult<EndpointView> {
        let now = self.clock.now();
        let mut tx = self.store.tenant(permit).await?;
        let current = tx.endpoint(id).await?.ok_or(ServiceError::NotFound)?;
        if version.is_some_and(|v| v != current.version) {
            return Err(ServiceError::Conflict(format!(
                "the endpoint is at version {}, not the one you sent; reload and retry",
                current.version
            )));
        }
        let mut next = current.clone();
        change(&mut next);
        if next == current {
            return Ok(endpoint_view(
                &current,
                self.endpoint_is_stale(&current, now),
            ));
        }
        next.version = current.version + 1;
        next.updated_at = now;
        let view = |e: &Endpoint| json!({ "tags": e.tags, "status": e.status, "reenrollAllowedUntil": e.reenroll_allowed_until });
        let audit = AuditDraft::new(actor, AuditAction::Update, "endpoint", id, now).with_changes(
            Some(&view(&current)),
            Some(&view(&next)),
            &[],
        );
        tx.update_endpoint(&next, current.version, &audit).await?;
        tx.commit().await?;
        Ok(endpoint_view(&next, self.endpoint_is_stale(&next, now)))
    }

    /// Deletes an endpoint with its scans.
    pub async fn delete_endpoint(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id: EndpointId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit).await?;
        let current = tx.endpoint(id).await?.ok_or(ServiceError::NotFound)?;
        let before = json!({ "hostname": current.hostname, "os": current.os, "tags": current.tags, "status": current.status });
        let audit = AuditDraft::new(actor, AuditAction::Delete, "endpoint", id, self.clock.now())
            .with_changes(Some(&before), None, &[]);
        tx.delete_endpoint(id, &audit).await?;
        tx.commit().await?;
        Ok(())
    }
}
