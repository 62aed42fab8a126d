//! The SQL both engines share, written once over a [`Driver`] (see `driver.rs`): the
//! transaction types and their trait implementations are generic, and `sqlite.rs` and
//! `postgres.rs` name them with their own driver. Where the engines differ, `sql.rs` and the
//! driver's constants say how.

use crate::driver::{Bound as _, Conn, Driver, RowRead};
use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use tater_domain::module::{ListQuery, Record, RecordMeta};
use tater_domain::{
    ApiKey, ApiKeyId, AuditDraft, AuditEntry, CheckStatus, Counts, DeliveryState, Destination,
    DestinationId, Email, Endpoint, EndpointId, EnrollmentToken, EnrollmentTokenId, Membership,
    Org, OrgId, RecordId, Role, Scan, ScanId, ScanResult, TenantScope, Timestamp, User, UserId,
};

use crate::sql::{Arg, SqlBuilder, byte_length, integer_expr, push_conditions, push_page};
use crate::{
    AuditQuery, AuditSettings, DeadLetter, DeliveryTx, DueDestination, EndpointQuery, IdentityTx,
    LatestResult, Mode, Result, ResultCount, ResultFilter, ResultGroup, ResultKey, StoreError,
    TenantTx, data_json, fit_page, json_size,
};

const RECORD_COLUMNS: &str = "id, data, version, created_at, updated_at, created_by, updated_by";
const USER_COLUMNS: &str = "id, email, display_name, password_hash, entra_oid, \
     tokens_valid_after, created_at, updated_at";
const ORG_COLUMNS: &str = "id, name, entra_tenant_id, created_at, updated_at";
const MEMBERSHIP_COLUMNS: &str = "m.tenant_id AS m_tenant_id, m.user_id AS m_user_id, \
     m.role AS m_role, m.created_at AS m_created_at, m.updated_at AS m_updated_at";
const TOKEN_COLUMNS: &str = "tenant_id, id, token_hash, prefix, label, single_use, uses, \
     created_at, expires_at, revoked_at, created_by, hostnames";
const ENDPOINT_COLUMNS: &str = "tenant_id, id, hostname, os, os_version, arch, agent_version, \
     tags, status, credential_hash, credential_prefix, enrolled_at, last_seen_at, last_scan_id, \
     reenroll_allowed_until, version, created_at, updated_at";
const SCAN_COLUMNS: &str =
    "tenant_id, id, endpoint_id, started_at, finished_at, received_at, counts";
/// The latest scan's results of each active endpoint of tenant `$1`.
const LATEST_RESULTS: &str = "FROM endpoints e JOIN scan_results r \
     ON r.tenant_id = e.tenant_id AND r.scan_id = e.last_scan_id \
     WHERE e.tenant_id = $1 AND e.status = 'active'";
/// Rows per multi-row insert of scan results (6 parameters each).
const RESULT_BATCH: usize = 500;
const KEY_COLUMNS: &str = "id, user_id, tenant_id, key_hash, prefix, name, role, \
     created_at, expires_at, last_used_at, revoked_at";

const INVITATION_COLUMNS: &str = "tenant_id, id, email, role, status, invited_by, \
     invited_by_email, created_at, expires_at, decided_at, user_id";

fn invitation_from_row(r: &impl RowRead) -> Result<tater_domain::Invitation> {
    let email: String = r.try_get("email")?;
    let status: String = r.try_get("status")?;
    Ok(tater_domain::Invitation {
        id: parse_col(r, "id")?,
        org: parse_col(r, "tenant_id")?,
        email: Email::parse(&email).map_err(|_| corrupt("email"))?,
        role: parse_col(r, "role")?,
        status: status.parse().map_err(|_| corrupt("status"))?,
        invited_by: r.try_get("invited_by")?,
        invited_by_email: r.try_get("invited_by_email")?,
        created_at: ts(r, "created_at")?,
        expires_at: ts(r, "expires_at")?,
        decided_at: opt_ts(r, "decided_at")?,
        user: parse_opt_col(r, "user_id")?,
    })
}

const RELEASE_COLUMNS: &str = "version, os, arch, sha256, size, signature, published_at";

fn release_from_row(r: &impl RowRead) -> Result<crate::AgentRelease> {
    Ok(crate::AgentRelease {
        version: r.try_get("version")?,
        os: r.try_get("os")?,
        arch: r.try_get("arch")?,
        sha256: r.try_get("sha256")?,
        size: r.try_get("size")?,
        signature: r.try_get("signature")?,
        published_at: ts(r, "published_at")?,
    })
}

fn bind_args<'q, D: Driver>(mut q: D::Query<'q>, args: &'q [Arg]) -> D::Query<'q> {
    for a in args {
        q = match a {
            Arg::Text(s) => q.bind(s.as_str()),
            Arg::Int(i) => q.bind(*i),
            Arg::Real(r) => q.bind(*r),
        };
    }
    q
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn parse_col<T: std::str::FromStr>(row: &impl RowRead, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    s.parse().map_err(|_| corrupt(col))
}

fn parse_opt_col<T: std::str::FromStr>(row: &impl RowRead, col: &str) -> Result<Option<T>> {
    let s: Option<String> = row.try_get(col)?;
    s.map(|s| s.parse().map_err(|_| corrupt(col))).transpose()
}

fn ts(row: &impl RowRead, col: &str) -> Result<Timestamp> {
    Ok(Timestamp::from_millis(row.try_get::<i64>(col)?))
}

fn opt_ts(row: &impl RowRead, col: &str) -> Result<Option<Timestamp>> {
    Ok(row.try_get::<Option<i64>>(col)?.map(Timestamp::from_millis))
}

fn record_from_row(row: &impl RowRead) -> Result<Record> {
    let Json(data): Json<Value> = row.try_get("data")?;
    let Value::Object(data) = data else {
        return Err(corrupt("record data is not an object"));
    };
    Ok(Record {
        meta: RecordMeta {
            id: parse_col(row, "id")?,
            version: row.try_get("version")?,
            created_at: ts(row, "created_at")?,
            updated_at: ts(row, "updated_at")?,
            created_by: row.try_get("created_by")?,
            updated_by: row.try_get("updated_by")?,
        },
        data,
    })
}

/// Reads a user from columns named `<prefix><column>`.
fn user_from_row(row: &impl RowRead, prefix: &str) -> Result<User> {
    let col = |c: &str| format!("{prefix}{c}");
    let email: String = row.try_get(col("email").as_str())?;
    Ok(User {
        id: parse_col(row, &col("id"))?,
        email: Email::parse(&email).map_err(|_| corrupt("email"))?,
        display_name: row.try_get(col("display_name").as_str())?,
        password_hash: row.try_get(col("password_hash").as_str())?,
        entra_oid: row.try_get(col("entra_oid").as_str())?,
        tokens_valid_after: ts(row, &col("tokens_valid_after"))?,
        created_at: ts(row, &col("created_at"))?,
        updated_at: ts(row, &col("updated_at"))?,
    })
}

/// `USER_COLUMNS` of table alias `u`, renamed `u_<column>`.
fn user_columns_as_u() -> String {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c} AS u_{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn org_from_row(row: &impl RowRead) -> Result<Org> {
    Ok(Org {
        id: parse_col(row, "id")?,
        name: row.try_get("name")?,
        entra_tenant_id: row.try_get("entra_tenant_id")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

/// Reads a membership from the columns of `MEMBERSHIP_COLUMNS`.
fn membership_from_row(row: &impl RowRead) -> Result<Membership> {
    Ok(Membership {
        org: parse_col(row, "m_tenant_id")?,
        user: parse_col(row, "m_user_id")?,
        role: parse_col(row, "m_role")?,
        created_at: ts(row, "m_created_at")?,
        updated_at: ts(row, "m_updated_at")?,
    })
}

/// Memberships from a `LEFT JOIN`: none when the joined columns are null.
fn memberships_from_rows(rows: &[impl RowRead]) -> Result<Vec<Membership>> {
    let mut out = Vec::new();
    for row in rows {
        if row.try_get::<Option<String>>("m_tenant_id")?.is_some() {
            out.push(membership_from_row(row)?);
        }
    }
    Ok(out)
}

fn key_from_row(row: &impl RowRead) -> Result<ApiKey> {
    Ok(ApiKey {
        id: parse_col(row, "id")?,
        user: parse_col(row, "user_id")?,
        org: parse_opt_col(row, "tenant_id")?,
        key_hash: row.try_get("key_hash")?,
        prefix: row.try_get("prefix")?,
        name: row.try_get("name")?,
        role: parse_opt_col(row, "role")?,
        created_at: ts(row, "created_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        last_used_at: opt_ts(row, "last_used_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

fn token_from_row(row: &impl RowRead) -> Result<EnrollmentToken> {
    Ok(EnrollmentToken {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        token_hash: row.try_get("token_hash")?,
        prefix: row.try_get("prefix")?,
        label: row.try_get("label")?,
        single_use: row.try_get("single_use")?,
        uses: row.try_get("uses")?,
        created_at: ts(row, "created_at")?,
        expires_at: ts(row, "expires_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
        created_by: row.try_get("created_by")?,
        hostnames: row
            .try_get::<Option<Json<Vec<String>>>>("hostnames")?
            .map(|Json(h)| h),
    })
}

fn endpoint_from_row(row: &impl RowRead) -> Result<Endpoint> {
    let Json(tags): Json<Vec<String>> = row.try_get("tags")?;
    Ok(Endpoint {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        hostname: row.try_get("hostname")?,
        os: row.try_get("os")?,
        os_version: row.try_get("os_version")?,
        arch: row.try_get("arch")?,
        agent_version: row.try_get("agent_version")?,
        tags,
        status: row.try_get("status")?,
        credential_hash: row.try_get("credential_hash")?,
        credential_prefix: row.try_get("credential_prefix")?,
        enrolled_at: ts(row, "enrolled_at")?,
        last_seen_at: opt_ts(row, "last_seen_at")?,
        last_scan_id: parse_opt_col(row, "last_scan_id")?,
        reenroll_allowed_until: opt_ts(row, "reenroll_allowed_until")?,
        version: row.try_get("version")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

fn counts_json(c: &Counts) -> Value {
    serde_json::json!({
        "pass": c.pass, "fail": c.fail, "manualReview": c.manual_review,
        "skip": c.skip, "error": c.error, "notApplicable": c.not_applicable,
    })
}

fn scan_from_row(row: &impl RowRead) -> Result<Scan> {
    let Json(c): Json<Value> = row.try_get("counts")?;
    let n = |k: &str| c.get(k).and_then(Value::as_i64).unwrap_or(0);
    Ok(Scan {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        endpoint: parse_col(row, "endpoint_id")?,
        started_at: ts(row, "started_at")?,
        finished_at: ts(row, "finished_at")?,
        received_at: ts(row, "received_at")?,
        counts: Counts {
            pass: n("pass"),
            fail: n("fail"),
            manual_review: n("manualReview"),
            skip: n("skip"),
            error: n("error"),
            not_applicable: n("notApplicable"),
        },
    })
}

/// Adds `f`'s conditions on latest results (`r`) and endpoints (`e`); false when it
/// can match nothing (an empty check list).
fn push_result_filter(b: &mut SqlBuilder, f: &ResultFilter) -> bool {
    if let Some(status) = f.status {
        let p = b.arg(Arg::Text(status.as_str().to_owned()));
        b.push(&format!(" AND r.status = {p}"));
    }
    if let Some(checks) = &f.checks {
        if checks.is_empty() {
            return false;
        }
        b.push(" AND r.check_id");
        b.in_list(checks.iter().map(|c| Arg::Text(c.clone())));
    }
    if let Some(e) = f.endpoint {
        let p = b.arg(Arg::Text(e.to_string()));
        b.push(&format!(" AND e.id = {p}"));
    }
    true
}

fn result_from_row(row: &impl RowRead) -> Result<ScanResult> {
    Ok(ScanResult {
        check_id: row.try_get("check_id")?,
        status: parse_col(row, "status")?,
        severity: row.try_get("severity")?,
        evidence: row.try_get("evidence")?,
    })
}

const AUDIT_COLUMNS: &str = "tenant_id, seq, id, action, entity_type, entity_id, user_id, upn, oid, \
     ts, via, changes, prev_hash, hash, key_id, signature";

/// `SELECT <columns> FROM audit_log` with the query's filters (tenant `$1`), unordered.
fn audit_select<D: Driver>(columns: &str, q: &AuditQuery) -> SqlBuilder {
    let mut b = SqlBuilder::new(
        D::KIND,
        format!("SELECT {columns} FROM audit_log WHERE tenant_id = $1"),
        1,
    );
    let text_filters = [
        ("via", q.via.map(|v| v.as_str().to_owned())),
        ("user_id", q.user_id.clone()),
        ("entity_type", q.entity_type.clone()),
        ("entity_id", q.entity_id.clone()),
        ("action", q.action.map(|a| a.as_str().to_owned())),
    ];
    for (col, value) in text_filters {
        if let Some(v) = value {
            let p = b.arg(Arg::Text(v));
            b.push(&format!(" AND {col} = {p}"));
        }
    }
    let int_filters = [
        ("ts >=", q.from.map(Timestamp::millis)),
        ("ts <", q.to.map(Timestamp::millis)),
        ("seq <", q.before_seq),
        ("seq >", q.after_seq),
        ("seq <=", q.upto_seq),
    ];
    for (cmp, value) in int_filters {
        if let Some(v) = value {
            let p = b.arg(Arg::Int(v));
            b.push(&format!(" AND {cmp} {p}"));
        }
    }
    b
}

fn audit_from_row(row: &impl RowRead) -> Result<AuditEntry> {
    let Json(changes): Json<Value> = row.try_get("changes")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        tenant_id: parse_col(row, "tenant_id")?,
        draft: AuditDraft {
            id: parse_col(row, "id")?,
            action: parse_col(row, "action")?,
            entity_type: row.try_get("entity_type")?,
            entity_id: row.try_get("entity_id")?,
            user_id: row.try_get("user_id")?,
            upn: row.try_get("upn")?,
            oid: row.try_get("oid")?,
            timestamp: ts(row, "ts")?,
            via: parse_col(row, "via")?,
            changes,
        },
        seal: tater_domain::AuditSeal {
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
            key_id: row.try_get("key_id")?,
            signature: row.try_get("signature")?,
        },
    })
}

/// Appends one entry to the tenant's log, taking the next sequence number and sealing
/// it (chain hash, signature; `tater-audit`). On PostgreSQL the upsert locks the
/// tenant's head row, so concurrent writers of one tenant queue here: sequence numbers
/// have no gaps and each entry links to the one before it. Every
/// `checkpoint_every`-th entry also gets a checkpoint.
async fn append_audit<D: Driver>(
    conn: &mut Conn<D>,
    settings: &AuditSettings,
    tenant: OrgId,
    d: &AuditDraft,
) -> Result<()> {
    let tenant_text = tenant.to_string();
    let head = D::query(
        "INSERT INTO audit_heads (tenant_id, last_seq, head_hash) VALUES ($1, 1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET last_seq = audit_heads.last_seq + 1 \
         RETURNING last_seq, head_hash",
    )
    .bind(&tenant_text)
    .bind(tater_audit::GENESIS_HASH)
    .fetch_one(&mut *conn)
    .await?;
    let mut entry = AuditEntry {
        seq: head.try_get("last_seq")?,
        tenant_id: tenant,
        draft: d.clone(),
        seal: Default::default(),
    };
    let prev: String = head.try_get("head_hash")?;
    entry.seal = tater_audit::seal(&entry, &prev, &settings.keys);
    D::query(
        "INSERT INTO audit_log (tenant_id, seq, id, action, entity_type, entity_id, \
         user_id, upn, oid, ts, via, changes, prev_hash, hash, key_id, signature, size_bytes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&tenant_text)
    .bind(entry.seq)
    .bind(d.id.to_string())
    .bind(d.action.as_str())
    .bind(&d.entity_type)
    .bind(&d.entity_id)
    .bind(&d.user_id)
    .bind(&d.upn)
    .bind(&d.oid)
    .bind(d.timestamp.millis())
    .bind(d.via.as_str())
    .bind(Json(&d.changes))
    .bind(&entry.seal.prev_hash)
    .bind(&entry.seal.hash)
    .bind(&entry.seal.key_id)
    .bind(&entry.seal.signature)
    .bind(json_size(&d.changes))
    .execute(&mut *conn)
    .await?;
    D::query("UPDATE audit_heads SET head_hash = $2 WHERE tenant_id = $1")
        .bind(&tenant_text)
        .bind(&entry.seal.hash)
        .execute(&mut *conn)
        .await?;
    // The outbox: one row per enabled SIEM destination, in this same transaction.
    D::query(
        "INSERT INTO siem_outbox (tenant_id, destination_id, seq, created_at) \
         SELECT tenant_id, id, $2, $3 FROM siem_destinations WHERE tenant_id = $1 AND enabled",
    )
    .bind(&tenant_text)
    .bind(entry.seq)
    .bind(d.timestamp.millis())
    .execute(&mut *conn)
    .await?;
    if settings.checkpoint_every > 0 && entry.seq % settings.checkpoint_every == 0 {
        let cp = tater_audit::Checkpoint::new(
            tenant,
            entry.seq,
            &entry.seal.hash,
            d.timestamp,
            &settings.keys,
        );
        insert_checkpoint::<D>(&mut *conn, &cp).await?;
    }
    Ok(())
}

/// Seals the entries written before audit sealing existed (migration 0004 left their
/// hash empty). They are a prefix of each tenant's log, so each tenant's chain starts at
/// its first entry and the head row gets the last hash. Runs at start-up; a no-op once
/// done.
pub(crate) async fn seal_legacy_entries<D: Driver>(
    conn: &mut Conn<D>,
    settings: &AuditSettings,
) -> Result<u64> {
    let rows = D::query(
        "SELECT tenant_id, seq, id, action, entity_type, entity_id, user_id, upn, oid, \
         ts, via, changes, prev_hash, hash, key_id, signature FROM audit_log \
         WHERE hash = '' ORDER BY tenant_id, seq",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut prev: Option<(OrgId, String)> = None;
    for row in &rows {
        let mut entry = audit_from_row(row)?;
        let prev_hash = match &prev {
            Some((t, h)) if *t == entry.tenant_id => h.clone(),
            _ => tater_audit::GENESIS_HASH.to_owned(),
        };
        entry.seal = tater_audit::seal(&entry, &prev_hash, &settings.keys);
        D::query(
            "UPDATE audit_log SET prev_hash = $3, hash = $4, key_id = $5, signature = $6 \
             WHERE tenant_id = $1 AND seq = $2",
        )
        .bind(entry.tenant_id.to_string())
        .bind(entry.seq)
        .bind(&entry.seal.prev_hash)
        .bind(&entry.seal.hash)
        .bind(&entry.seal.key_id)
        .bind(&entry.seal.signature)
        .execute(&mut *conn)
        .await?;
        D::query("UPDATE audit_heads SET head_hash = $2 WHERE tenant_id = $1 AND last_seq = $3")
            .bind(entry.tenant_id.to_string())
            .bind(&entry.seal.hash)
            .bind(entry.seq)
            .execute(&mut *conn)
            .await?;
        prev = Some((entry.tenant_id, entry.seal.hash));
    }
    if !rows.is_empty() {
        tracing::info!(
            entries = rows.len(),
            "sealed audit entries written before the hash chain existed"
        );
    }
    Ok(rows.len() as u64)
}

async fn insert_checkpoint<D: Driver>(
    conn: &mut Conn<D>,
    cp: &tater_audit::Checkpoint,
) -> Result<()> {
    D::query(
        "INSERT INTO audit_checkpoints (tenant_id, seq, head_hash, ts, key_id, signature) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, seq) DO NOTHING",
    )
    .bind(cp.tenant_id.to_string())
    .bind(cp.seq)
    .bind(&cp.head_hash)
    .bind(cp.timestamp.millis())
    .bind(&cp.key_id)
    .bind(&cp.signature)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const DESTINATION_COLUMNS: &str = "d.tenant_id, d.id, d.name, d.kind, d.config, d.secret_enc, \
     d.enabled, d.version, d.created_at, d.updated_at, d.delivered, d.last_success_at, \
     d.last_error, d.last_error_at, d.failing_since, d.attempts, d.next_attempt_at, \
     (SELECT COUNT(*) FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
      AND o.destination_id = d.id AND o.state = 'pending') AS pending, \
     (SELECT MIN(o.created_at) FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
      AND o.destination_id = d.id AND o.state = 'pending') AS oldest_pending_at, \
     (SELECT COUNT(*) FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
      AND o.destination_id = d.id AND o.state = 'dead') AS dead_letters";

fn destination_from_row(row: &impl RowRead) -> Result<(Destination, DeliveryState)> {
    let Json(config): Json<Value> = row.try_get("config")?;
    let kind: String = row.try_get("kind")?;
    let d = Destination {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        name: row.try_get("name")?,
        kind: kind.parse().map_err(|_| corrupt("kind"))?,
        config,
        secret_enc: row.try_get("secret_enc")?,
        enabled: row.try_get("enabled")?,
        version: row.try_get("version")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    };
    let next: i64 = row.try_get("next_attempt_at")?;
    let state = DeliveryState {
        pending: row.try_get("pending")?,
        oldest_pending_at: opt_ts(row, "oldest_pending_at")?,
        dead_letters: row.try_get("dead_letters")?,
        delivered: row.try_get("delivered")?,
        last_success_at: opt_ts(row, "last_success_at")?,
        last_error: row.try_get("last_error")?,
        last_error_at: opt_ts(row, "last_error_at")?,
        failing_since: opt_ts(row, "failing_since")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: (next > 0).then(|| Timestamp::from_millis(next)),
    };
    Ok((d, state))
}

const JOB_COLUMNS: &str = "id, tenant_id, name, script_id, script_version, check_id, language, run_as, \
     timeout_secs, content, created_by, created_at";

fn job_from_row(row: &impl RowRead) -> Result<tater_domain::Job> {
    Ok(tater_domain::Job {
        id: parse_col(row, "id")?,
        org: parse_col(row, "tenant_id")?,
        name: row.try_get("name")?,
        script_id: parse_opt_col(row, "script_id")?,
        script_version: row.try_get("script_version")?,
        check_id: row.try_get("check_id")?,
        language: row.try_get("language")?,
        run_as: row.try_get("run_as")?,
        timeout_secs: row.try_get("timeout_secs")?,
        content: row.try_get("content")?,
        created_by: row.try_get("created_by")?,
        created_at: ts(row, "created_at")?,
    })
}

const TARGET_COLUMNS: &str = "job_id, endpoint_id, hostname, status, exit_code, stdout, stderr, \
     duration_ms, reason, sent_at, finished_at";

fn target_from_row(r: &impl RowRead) -> Result<tater_domain::JobTarget> {
    Ok(tater_domain::JobTarget {
        endpoint: parse_col(r, "endpoint_id")?,
        hostname: r.try_get("hostname")?,
        status: parse_col(r, "status").map_err(|_| corrupt("status"))?,
        exit_code: r.try_get("exit_code")?,
        stdout: r.try_get("stdout")?,
        stderr: r.try_get("stderr")?,
        duration_ms: r.try_get("duration_ms")?,
        reason: r.try_get("reason")?,
        sent_at: opt_ts(r, "sent_at")?,
        finished_at: opt_ts(r, "finished_at")?,
    })
}

fn checkpoint_from_row(row: &impl RowRead) -> Result<tater_audit::Checkpoint> {
    Ok(tater_audit::Checkpoint {
        tenant_id: parse_col(row, "tenant_id")?,
        seq: row.try_get("seq")?,
        head_hash: row.try_get("head_hash")?,
        timestamp: ts(row, "ts")?,
        key_id: row.try_get("key_id")?,
        signature: row.try_get("signature")?,
    })
}

async fn append_audits<D: Driver>(
    conn: &mut Conn<D>,
    audit: &AuditSettings,
    audits: &[(OrgId, AuditDraft)],
) -> Result<()> {
    for (org, d) in audits {
        append_audit::<D>(&mut *conn, audit, *org, d).await?;
    }
    Ok(())
}

async fn insert_user_row<D: Driver>(conn: &mut Conn<D>, user: &User) -> Result<()> {
    D::query(
        "INSERT INTO users (id, email, display_name, password_hash, entra_oid, \
         tokens_valid_after, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(user.id.to_string())
    .bind(user.email.as_str())
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(&user.entra_oid)
    .bind(user.tokens_valid_after.millis())
    .bind(user.created_at.millis())
    .bind(user.updated_at.millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_key_row<D: Driver>(conn: &mut Conn<D>, key: &ApiKey) -> Result<()> {
    D::query(
        "INSERT INTO api_keys (id, user_id, tenant_id, key_hash, prefix, name, role, \
         created_at, expires_at, last_used_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(key.id.to_string())
    .bind(key.user.to_string())
    .bind(key.org.map(|o| o.to_string()))
    .bind(&key.key_hash)
    .bind(&key.prefix)
    .bind(&key.name)
    .bind(key.role.map(|r| r.as_str()))
    .bind(key.created_at.millis())
    .bind(key.expires_at.map(Timestamp::millis))
    .bind(key.last_used_at.map(Timestamp::millis))
    .bind(key.revoked_at.map(Timestamp::millis))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Shards of the posture counters (see migration 0003).
const POSTURE_SHARDS: u32 = 16;

/// The counter shard of an endpoint.
fn shard_of(endpoint: &str) -> i64 {
    let h = endpoint
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    i64::from(h % POSTURE_SHARDS)
}

/// Moves the endpoint's contribution to the posture counts from scan `from` to scan
/// `to` (either may be absent): only the results that differ between the two change a
/// counter, so a routine re-scan touches few rows.
async fn move_posture<D: Driver>(
    conn: &mut Conn<D>,
    tenant: &str,
    endpoint: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<()> {
    let shard = shard_of(endpoint);
    // The (check, status, severity) keys of scan `$2` that scan `$4` lacks. A set
    // difference rather than a correlated NOT EXISTS: PostgreSQL's generic plans guess
    // one row per side and a nested anti-join then costs seconds per report.
    let only_in = |this: &str, other: Option<&str>| {
        let pick = |scan: &str| {
            format!(
                "SELECT check_id, status, severity FROM scan_results WHERE tenant_id = $1 AND scan_id = {scan}"
            )
        };
        match other {
            Some(other) => format!("{} EXCEPT {}", pick(this), pick(other)),
            None => pick(this),
        }
    };
    if let Some(old) = from {
        let sql = format!(
            "UPDATE posture_counts SET n = n - 1 WHERE tenant_id = $1 AND shard = $3 \
             AND (check_id, status, severity) IN ({})",
            only_in("$2", to.map(|_| "$4"))
        );
        let q = D::query(&sql).bind(tenant).bind(old).bind(shard);
        match to {
            Some(other) => q.bind(other).execute(&mut *conn).await?,
            None => q.execute(&mut *conn).await?,
        };
    }
    if let Some(new) = to {
        let sql = format!(
            "INSERT INTO posture_counts (tenant_id, check_id, status, severity, shard, n) \
             SELECT $1, d.check_id, d.status, d.severity, $3, 1 FROM ({}) d WHERE true \
             ON CONFLICT (tenant_id, check_id, status, severity, shard) DO UPDATE SET n = posture_counts.n + 1",
            only_in("$2", from.map(|_| "$4"))
        );
        let q = D::query(&sql).bind(tenant).bind(new).bind(shard);
        match from {
            Some(other) => q.bind(other).execute(&mut *conn).await?,
            None => q.execute(&mut *conn).await?,
        };
    }
    Ok(())
}

/// An endpoint's status and latest scan (with when it finished), before a change.
async fn endpoint_state<D: Driver>(
    conn: &mut Conn<D>,
    tenant: &str,
    id: &str,
) -> Result<Option<(String, Option<String>, Option<i64>)>> {
    let row = D::query(
        "SELECT e.status, e.last_scan_id, s.finished_at FROM endpoints e \
         LEFT JOIN scans s ON s.tenant_id = e.tenant_id AND s.id = e.last_scan_id \
         WHERE e.tenant_id = $1 AND e.id = $2",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("status")?,
            r.try_get("last_scan_id")?,
            r.try_get("finished_at")?,
        ))
    })
    .transpose()
}

/// Keeps posture counts right when an endpoint goes from `was_active` to `is_active`
/// with the same latest scan.
async fn follow_status<D: Driver>(
    conn: &mut Conn<D>,
    tenant: &str,
    endpoint: &str,
    latest: Option<&str>,
    was_active: bool,
    is_active: bool,
) -> Result<()> {
    match (latest, was_active, is_active) {
        (Some(scan), true, false) => {
            move_posture::<D>(conn, tenant, endpoint, Some(scan), None).await
        }
        (Some(scan), false, true) => {
            move_posture::<D>(conn, tenant, endpoint, None, Some(scan)).await
        }
        _ => Ok(()),
    }
}

fn tally_json(results: &[ScanResult]) -> Value {
    let mut counts: std::collections::BTreeMap<(&str, &str), i64> =
        std::collections::BTreeMap::new();
    for r in results {
        *counts
            .entry((r.status.as_str(), r.severity.as_str()))
            .or_default() += 1;
    }
    Value::Array(
        counts
            .into_iter()
            .map(|((st, sv), n)| serde_json::json!([st, sv, n]))
            .collect(),
    )
}

/// A transaction on one tenant's data.
pub struct EngineTenantTx<D: Driver> {
    pub(crate) tx: sqlx::Transaction<'static, D::Db>,
    pub(crate) scope: TenantScope,
    pub(crate) mode: Mode,
    pub(crate) audit: std::sync::Arc<AuditSettings>,
    /// A write was refused (read-only permit): the transaction can only roll back.
    pub(crate) refused: bool,
}

impl<D: Driver> EngineTenantTx<D> {
    fn tenant(&self) -> String {
        self.scope.org().to_string()
    }

    /// Appends the audit entry of a write. Every write of tenant data comes with one,
    /// so this is also where a write under a read-only permit is refused (and the
    /// transaction, never committed, rolls the write back).
    async fn audited(&mut self, audit: &AuditDraft) -> Result<()> {
        if self.mode != Mode::Write {
            // The row change before the entry already ran: make sure it never commits.
            self.refused = true;
            return Err(StoreError::ReadOnly);
        }
        let org = self.scope.org();
        append_audit::<D>(&mut self.tx, &self.audit, org, audit).await
    }
}

#[async_trait]
impl<D: Driver> TenantTx for EngineTenantTx<D> {
    fn scope(&self) -> TenantScope {
        self.scope
    }

    async fn get_record(&mut self, module: &str, id: RecordId) -> Result<Option<Record>> {
        let lock = if self.mode == Mode::Write {
            D::LOCK
        } else {
            ""
        };
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM records \
             WHERE tenant_id = $1 AND module = $2 AND id = $3{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(module)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    async fn list_records(&mut self, module: &str, query: &ListQuery) -> Result<Vec<Record>> {
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND module = $2"),
            2,
        );
        push_conditions(&mut b, &query.filter);
        push_page(&mut b, query);
        let tenant = self.tenant();
        let q = D::query(&b.sql).bind(tenant).bind(module);
        let rows = bind_args::<D>(q, &b.args).fetch_all(&mut *self.tx).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn page_records(
        &mut self,
        module: &str,
        query: &ListQuery,
        max_bytes: u64,
    ) -> Result<(Vec<Record>, bool)> {
        // First the ids and sizes of the candidates, in page order; then only the rows
        // that fit are read whole.
        let mut b = SqlBuilder::new(
            D::KIND,
            "SELECT id, size_bytes FROM records WHERE tenant_id = $1 AND module = $2".to_owned(),
            2,
        );
        push_conditions(&mut b, &query.filter);
        push_page(&mut b, query);
        let tenant = self.tenant();
        let sized = bind_args::<D>(D::query(&b.sql).bind(&tenant).bind(module), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let sizes = sized
            .iter()
            .map(|r| r.try_get::<i64>("size_bytes"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let (n, more) = fit_page(&sizes, query.limit, max_bytes);
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        let ids = sized[..n]
            .iter()
            .map(|r| r.try_get::<String>("id"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut b = SqlBuilder::new(
            D::KIND,
            format!(
                "SELECT {RECORD_COLUMNS} FROM records WHERE tenant_id = $1 AND module = $2 AND id"
            ),
            2,
        );
        b.in_list(ids.iter().map(|id| Arg::Text(id.clone())));
        let rows = bind_args::<D>(D::query(&b.sql).bind(&tenant).bind(module), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut by_id: std::collections::HashMap<String, Record> = std::collections::HashMap::new();
        for row in &rows {
            let r = record_from_row(row)?;
            by_id.insert(r.meta.id.to_string(), r);
        }
        // In page order; a row deleted between the two reads is simply not there.
        Ok((ids.iter().filter_map(|id| by_id.remove(id)).collect(), more))
    }

    async fn count_by(
        &mut self,
        module: &str,
        fields: &[&'static str],
    ) -> Result<Vec<(Vec<Option<i64>>, i64)>> {
        let exprs: Vec<String> = fields.iter().map(|f| integer_expr(D::KIND, f)).collect();
        let keys: Vec<String> = (1..=fields.len()).map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {}, COUNT(*) AS n FROM records WHERE tenant_id = $1 AND module = $2 \
             GROUP BY {}",
            exprs.join(", "),
            keys.join(", ")
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .bind(module)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|row| {
                let mut key = Vec::with_capacity(fields.len());
                for i in 0..fields.len() {
                    key.push(row.try_get_at::<Option<i64>>(i)?);
                }
                Ok((key, row.try_get::<i64>("n")?))
            })
            .collect()
    }

    async fn insert_record(
        &mut self,
        module: &str,
        record: &Record,
        audit: &AuditDraft,
    ) -> Result<()> {
        let m = &record.meta;
        D::query(
            "INSERT INTO records (tenant_id, module, id, data, version, created_at, \
             updated_at, created_by, updated_by, size_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(m.id.to_string())
        .bind(Json(data_json(record)))
        .bind(m.version)
        .bind(m.created_at.millis())
        .bind(m.updated_at.millis())
        .bind(&m.created_by)
        .bind(&m.updated_by)
        .bind(json_size(&data_json(record)))
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn update_record(
        &mut self,
        module: &str,
        record: &Record,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        let m = &record.meta;
        let done = D::query(
            "UPDATE records SET data = $4, version = $5, updated_at = $6, updated_by = $7, \
             size_bytes = $9 WHERE tenant_id = $1 AND module = $2 AND id = $3 AND version = $8",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(m.id.to_string())
        .bind(Json(data_json(record)))
        .bind(m.version)
        .bind(m.updated_at.millis())
        .bind(&m.updated_by)
        .bind(expected_version)
        .bind(json_size(&data_json(record)))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.missing_or_changed(module, m.id).await);
        }
        self.audited(audit).await
    }

    async fn delete_record(
        &mut self,
        module: &str,
        id: RecordId,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "DELETE FROM records WHERE tenant_id = $1 AND module = $2 AND id = $3 \
             AND version = $4",
        )
        .bind(self.tenant())
        .bind(module)
        .bind(id.to_string())
        .bind(expected_version)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.missing_or_changed(module, id).await);
        }
        self.audited(audit).await
    }

    async fn list_audit(&mut self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut b = audit_select::<D>(AUDIT_COLUMNS, q);
        let order = if q.ascending { "ASC" } else { "DESC" };
        b.push(&format!(
            " ORDER BY seq {order} LIMIT {}",
            u64::from(q.limit) + 1
        ));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn page_audit(
        &mut self,
        q: &AuditQuery,
        max_bytes: u64,
    ) -> Result<(Vec<AuditEntry>, bool)> {
        let order = if q.ascending { "ASC" } else { "DESC" };
        let mut b = audit_select::<D>("seq, size_bytes", q);
        b.push(&format!(
            " ORDER BY seq {order} LIMIT {}",
            u64::from(q.limit) + 1
        ));
        let sized = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let sizes = sized
            .iter()
            .map(|r| r.try_get::<i64>("size_bytes"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let (n, more) = fit_page(&sizes, q.limit, max_bytes);
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        // The entries between the first and the last that fit: sequence numbers are
        // fixed once written, so the second read returns exactly those.
        let first: i64 = sized[0].try_get("seq")?;
        let last: i64 = sized[n - 1].try_get("seq")?;
        let mut b = audit_select::<D>(AUDIT_COLUMNS, q);
        let lo = b.arg(Arg::Int(first.min(last)));
        let hi = b.arg(Arg::Int(first.max(last)));
        b.push(&format!(
            " AND seq >= {lo} AND seq <= {hi} ORDER BY seq {order} LIMIT {n}"
        ));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok((
            rows.iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?,
            more,
        ))
    }

    async fn endpoint_named(&mut self, hostname: &str) -> Result<Option<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1 AND hostname = $2"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(hostname)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn insert_job(
        &mut self,
        job: &tater_domain::Job,
        targets: &[tater_domain::JobTarget],
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO jobs (tenant_id, id, name, script_id, script_version, check_id, language, \
             run_as, timeout_secs, content, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(self.tenant())
        .bind(job.id.to_string())
        .bind(&job.name)
        .bind(job.script_id.map(|i| i.to_string()))
        .bind(job.script_version)
        .bind(&job.check_id)
        .bind(&job.language)
        .bind(&job.run_as)
        .bind(job.timeout_secs)
        .bind(&job.content)
        .bind(&job.created_by)
        .bind(job.created_at.millis())
        .execute(&mut *self.tx)
        .await?;
        for t in targets {
            D::query(
                "INSERT INTO job_targets (tenant_id, job_id, endpoint_id, hostname, status) \
                 VALUES ($1, $2, $3, $4, 'pending')",
            )
            .bind(self.tenant())
            .bind(job.id.to_string())
            .bind(t.endpoint.to_string())
            .bind(&t.hostname)
            .execute(&mut *self.tx)
            .await?;
        }
        self.audited(audit).await
    }

    async fn job(
        &mut self,
        id: RecordId,
    ) -> Result<Option<(tater_domain::Job, Vec<tater_domain::JobTarget>)>> {
        let row = D::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(self.tenant())
        .bind(id.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let job = job_from_row(&row)?;
        let rows = D::query(&format!(
            "SELECT {TARGET_COLUMNS} FROM job_targets WHERE tenant_id = $1 AND job_id = $2 ORDER BY hostname"
        ))
        .bind(self.tenant())
        .bind(id.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        let targets = rows
            .iter()
            .map(target_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((job, targets)))
    }

    async fn jobs(
        &mut self,
        before: Option<(Timestamp, RecordId)>,
        limit: u32,
        max_bytes: u64,
    ) -> Result<(Vec<(tater_domain::Job, Vec<tater_domain::JobTarget>)>, bool)> {
        // Sizes first (script, and each target's output plus what its view adds), so
        // a page never reads more job output than it returns.
        let size = format!(
            "{} + COALESCE((SELECT SUM({} + {} + {} + 256) FROM job_targets t \
             WHERE t.tenant_id = j.tenant_id AND t.job_id = j.id), 0)",
            byte_length(D::KIND, "j.content"),
            byte_length(D::KIND, "t.stdout"),
            byte_length(D::KIND, "t.stderr"),
            byte_length(D::KIND, "t.reason"),
        );
        let mut b = SqlBuilder::new(
            D::KIND,
            format!(
                "SELECT j.id, CAST({size} AS BIGINT) AS size_bytes FROM jobs j WHERE j.tenant_id = $1"
            ),
            1,
        );
        if let Some((at, id)) = before {
            let t = b.arg(Arg::Int(at.millis()));
            let i = b.arg(Arg::Text(id.to_string()));
            b.push(&format!(" AND (j.created_at, j.id) < ({t}, {i})"));
        }
        b.push(&format!(
            " ORDER BY j.created_at DESC, j.id DESC LIMIT {}",
            u64::from(limit) + 1
        ));
        let sized = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let sizes = sized
            .iter()
            .map(|r| r.try_get::<i64>("size_bytes"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let (n, more) = fit_page(&sizes, limit, max_bytes);
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        let ids = sized[..n]
            .iter()
            .map(|r| r.try_get::<String>("id"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id"),
            1,
        );
        b.in_list(ids.iter().map(|id| Arg::Text(id.clone())));
        b.push(" ORDER BY created_at DESC, id DESC");
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        // Every target of the page in one read.
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {TARGET_COLUMNS} FROM job_targets WHERE tenant_id = $1 AND job_id"),
            1,
        );
        b.in_list(jobs.iter().map(|j| Arg::Text(j.id.to_string())));
        b.push(" ORDER BY hostname");
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut targets: std::collections::HashMap<String, Vec<tater_domain::JobTarget>> =
            std::collections::HashMap::new();
        for r in &rows {
            let job: String = r.try_get("job_id")?;
            targets.entry(job).or_default().push(target_from_row(r)?);
        }
        let page = jobs
            .into_iter()
            .map(|j| {
                let t = targets.remove(&j.id.to_string()).unwrap_or_default();
                (j, t)
            })
            .collect();
        Ok((page, more))
    }

    async fn take_commands(
        &mut self,
        endpoint: EndpointId,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<tater_domain::Job>> {
        let sql = format!(
            "SELECT {} FROM jobs j JOIN job_targets t ON t.tenant_id = j.tenant_id AND t.job_id = j.id \
             WHERE t.tenant_id = $1 AND t.endpoint_id = $2 AND t.status = 'pending' \
             ORDER BY j.created_at LIMIT {limit}",
            JOB_COLUMNS
                .split(", ")
                .map(|c| format!("j.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .bind(endpoint.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        let jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        let mut taken = Vec::with_capacity(jobs.len());
        for j in jobs {
            // Only what this statement moved from pending to sent is handed out: a
            // target cancelled or expired meanwhile stays where it is.
            let moved = D::query(
                "UPDATE job_targets SET status = 'sent', sent_at = $4 \
                 WHERE tenant_id = $1 AND job_id = $2 AND endpoint_id = $3 AND status = 'pending'",
            )
            .bind(self.tenant())
            .bind(j.id.to_string())
            .bind(endpoint.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
            if moved.rows_affected() == 1 {
                taken.push(j);
            }
        }
        Ok(taken)
    }

    async fn pending_targets(
        &mut self,
        job: Option<RecordId>,
        created_before: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<(RecordId, Vec<String>)>> {
        let mut b = SqlBuilder::new(
            D::KIND,
            "SELECT t.job_id, t.hostname FROM job_targets t JOIN jobs j \
             ON j.tenant_id = t.tenant_id AND j.id = t.job_id \
             WHERE t.tenant_id = $1 AND t.status = 'pending' AND t.job_id IN \
             (SELECT pj.id FROM jobs pj WHERE pj.tenant_id = $1 AND EXISTS (SELECT 1 FROM job_targets pt \
             WHERE pt.tenant_id = pj.tenant_id AND pt.job_id = pj.id AND pt.status = 'pending')".to_owned(),
            1,
        );
        if let Some(id) = job {
            let p = b.arg(Arg::Text(id.to_string()));
            b.push(&format!(" AND pj.id = {p}"));
        }
        if let Some(before) = created_before {
            let p = b.arg(Arg::Int(before.millis()));
            b.push(&format!(" AND pj.created_at < {p}"));
        }
        b.push(&format!(" ORDER BY pj.created_at, pj.id LIMIT {limit})"));
        b.push(" ORDER BY j.created_at, t.job_id, t.hostname");
        if self.mode == Mode::Write {
            b.push(D::LOCK);
        }
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut out: Vec<(RecordId, Vec<String>)> = Vec::new();
        for r in &rows {
            let id: RecordId = parse_col(r, "job_id")?;
            let host: String = r.try_get("hostname")?;
            match out.last_mut() {
                Some((last, hosts)) if *last == id => hosts.push(host),
                _ => out.push((id, vec![host])),
            }
        }
        Ok(out)
    }

    async fn end_pending_targets(
        &mut self,
        job: RecordId,
        status: tater_domain::TargetStatus,
        reason: &str,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<u64> {
        let ended = D::query(
            "UPDATE job_targets SET status = $3, reason = $4, finished_at = $5 \
             WHERE tenant_id = $1 AND job_id = $2 AND status = 'pending'",
        )
        .bind(self.tenant())
        .bind(job.to_string())
        .bind(status.as_str())
        .bind(reason)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if ended > 0 {
            self.audited(audit).await?;
        }
        Ok(ended)
    }

    async fn finish_command(
        &mut self,
        job: RecordId,
        o: &tater_domain::JobTarget,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE job_targets SET status = $4, exit_code = $5, stdout = $6, stderr = $7, \
             duration_ms = $8, reason = $9, finished_at = $10 \
             WHERE tenant_id = $1 AND job_id = $2 AND endpoint_id = $3 AND status = 'sent'",
        )
        .bind(self.tenant())
        .bind(job.to_string())
        .bind(o.endpoint.to_string())
        .bind(o.status.as_str())
        .bind(o.exit_code)
        .bind(&o.stdout)
        .bind(&o.stderr)
        .bind(o.duration_ms)
        .bind(&o.reason)
        .bind(o.finished_at.map(Timestamp::millis))
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn settings(&mut self) -> Result<crate::OrgSettings> {
        // Locked in write transactions: a job created, or a command handed out, under
        // the switch's protection cannot interleave with the switch being turned off.
        let lock = if self.mode == Mode::Write {
            D::LOCK
        } else {
            ""
        };
        let sql = format!("SELECT remote_execution FROM org_settings WHERE tenant_id = $1{lock}");
        let row = D::query(&sql)
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(match row {
            Some(r) => crate::OrgSettings {
                remote_execution: r.try_get("remote_execution")?,
            },
            None => crate::OrgSettings::default(),
        })
    }

    async fn put_settings(
        &mut self,
        st: &crate::OrgSettings,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO org_settings (tenant_id, remote_execution, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET remote_execution = excluded.remote_execution, \
             updated_at = excluded.updated_at",
        )
        .bind(self.tenant())
        .bind(st.remote_execution)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn insert_destination(&mut self, d: &Destination, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO siem_destinations (tenant_id, id, name, kind, config, secret_enc, \
             enabled, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(self.tenant())
        .bind(d.id.to_string())
        .bind(&d.name)
        .bind(d.kind.as_str())
        .bind(Json(&d.config))
        .bind(&d.secret_enc)
        .bind(d.enabled)
        .bind(d.version)
        .bind(d.created_at.millis())
        .bind(d.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn update_destination(
        &mut self,
        d: &Destination,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        // A changed destination is tried again at once.
        let done = D::query(
            "UPDATE siem_destinations SET name = $3, config = $4, secret_enc = $5, enabled = $6, \
             version = $7, updated_at = $8, next_attempt_at = 0, attempts = 0 \
             WHERE tenant_id = $1 AND id = $2 AND version = $9",
        )
        .bind(self.tenant())
        .bind(d.id.to_string())
        .bind(&d.name)
        .bind(Json(&d.config))
        .bind(&d.secret_enc)
        .bind(d.enabled)
        .bind(d.version)
        .bind(d.updated_at.millis())
        .bind(expected_version)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(match self.destination(d.id).await? {
                Some(_) => {
                    StoreError::Conflict("the destination was changed by someone else".into())
                }
                None => StoreError::NotFound,
            });
        }
        self.audited(audit).await
    }

    async fn delete_destination(&mut self, id: DestinationId, audit: &AuditDraft) -> Result<()> {
        let done = D::query("DELETE FROM siem_destinations WHERE tenant_id = $1 AND id = $2")
            .bind(self.tenant())
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.audited(audit).await
    }

    async fn destinations(&mut self) -> Result<Vec<(Destination, DeliveryState)>> {
        let sql = format!(
            "SELECT {DESTINATION_COLUMNS} FROM siem_destinations d WHERE d.tenant_id = $1 \
             ORDER BY lower(d.name)"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(destination_from_row).collect()
    }

    async fn destination(
        &mut self,
        id: DestinationId,
    ) -> Result<Option<(Destination, DeliveryState)>> {
        let sql = format!(
            "SELECT {DESTINATION_COLUMNS} FROM siem_destinations d \
             WHERE d.tenant_id = $1 AND d.id = $2{}",
            if self.mode == Mode::Write {
                D::LOCK
            } else {
                ""
            }
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(destination_from_row).transpose()
    }

    async fn dead_letters(&mut self, id: DestinationId, limit: u32) -> Result<Vec<DeadLetter>> {
        let rows = D::query(
            "SELECT seq, attempts, last_error, dead_at FROM siem_outbox \
             WHERE tenant_id = $1 AND destination_id = $2 AND state = 'dead' ORDER BY seq LIMIT $3",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    seq: r.try_get("seq")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    dead_at: opt_ts(r, "dead_at")?,
                })
            })
            .collect()
    }

    async fn replay_dead_letters(&mut self, id: DestinationId, audit: &AuditDraft) -> Result<u64> {
        let done = D::query(
            "UPDATE siem_outbox SET state = 'pending', attempts = 0, dead_at = NULL \
             WHERE tenant_id = $1 AND destination_id = $2 AND state = 'dead'",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "UPDATE siem_destinations SET next_attempt_at = 0 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() > 0 {
            self.audited(audit).await?;
        }
        Ok(done.rows_affected())
    }

    async fn audit_head(&mut self) -> Result<(i64, String)> {
        let row = D::query("SELECT last_seq, head_hash FROM audit_heads WHERE tenant_id = $1")
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        match row {
            Some(r) => Ok((r.try_get("last_seq")?, r.try_get("head_hash")?)),
            None => Ok((0, tater_audit::GENESIS_HASH.to_owned())),
        }
    }

    async fn audit_checkpoints(
        &mut self,
        after_seq: i64,
        upto_seq: i64,
    ) -> Result<Vec<tater_audit::Checkpoint>> {
        let rows = D::query(
            "SELECT tenant_id, seq, head_hash, ts, key_id, signature FROM audit_checkpoints \
             WHERE tenant_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(self.tenant())
        .bind(after_seq)
        .bind(upto_seq)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    async fn members(&mut self) -> Result<Vec<(Membership, User)>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS}, {} FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 ORDER BY u.email",
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((membership_from_row(r)?, user_from_row(r, "u_")?)))
            .collect()
    }

    async fn member(&mut self, user: UserId) -> Result<Option<(Membership, User)>> {
        let lock = if self.mode == Mode::Write {
            " FOR UPDATE OF m"
        } else {
            ""
        };
        let lock = if D::LOCK.is_empty() { "" } else { lock };
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS}, {} FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND m.user_id = $2{lock}",
            user_columns_as_u()
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(user.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref()
            .map(|r| Ok((membership_from_row(r)?, user_from_row(r, "u_")?)))
            .transpose()
    }

    async fn count_members_with(&mut self, roles: &[Role]) -> Result<i64> {
        if roles.is_empty() {
            return Ok(0);
        }
        // Lock the rows counted, so two concurrent demotions cannot both pass.
        let lock = if self.mode == Mode::Write {
            D::LOCK
        } else {
            ""
        };
        let placeholders: Vec<String> = (0..roles.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT user_id FROM memberships WHERE tenant_id = $1 AND role IN ({}){lock}",
            placeholders.join(", ")
        );
        let mut q = D::query(&sql).bind(self.tenant());
        for r in roles {
            q = q.bind(r.as_str());
        }
        Ok(q.fetch_all(&mut *self.tx).await?.len() as i64)
    }

    async fn insert_user(&mut self, user: &User, audit: &AuditDraft) -> Result<()> {
        insert_user_row::<D>(&mut self.tx, user).await?;
        self.audited(audit).await
    }

    async fn add_member(&mut self, m: &Membership, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(self.tenant())
        .bind(m.user.to_string())
        .bind(m.role.as_str())
        .bind(m.created_at.millis())
        .bind(m.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn set_member_role(
        &mut self,
        user: UserId,
        role: Role,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE memberships SET role = $3, updated_at = $4 WHERE tenant_id = $1 AND user_id = $2",
        )
        .bind(self.tenant())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn remove_member(&mut self, user: UserId, audit: &AuditDraft) -> Result<()> {
        let done = D::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(self.tenant())
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn api_keys(&mut self) -> Result<Vec<(ApiKey, User)>> {
        let sql = format!(
            "SELECT {}, {} FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.tenant_id = $1 ORDER BY k.created_at DESC, k.id",
            KEY_COLUMNS
                .split(", ")
                .map(|c| format!("k.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((key_from_row(r)?, user_from_row(r, "u_")?)))
            .collect()
    }

    async fn insert_api_key(&mut self, key: &ApiKey, audit: &AuditDraft) -> Result<()> {
        let bound = ApiKey {
            org: Some(self.scope.org()),
            ..key.clone()
        };
        insert_key_row::<D>(&mut self.tx, &bound).await?;
        self.audited(audit).await
    }

    async fn api_key_here(&mut self, id: ApiKeyId) -> Result<Option<(ApiKey, Option<Role>)>> {
        let lock = if self.mode == Mode::Write {
            " FOR UPDATE OF k"
        } else {
            ""
        };
        let lock = if D::LOCK.is_empty() { "" } else { lock };
        let sql = format!(
            "SELECT {}, m.role AS owner_role FROM api_keys k LEFT JOIN memberships m \
             ON m.tenant_id = k.tenant_id AND m.user_id = k.user_id \
             WHERE k.tenant_id = $1 AND k.id = $2{lock}",
            KEY_COLUMNS
                .split(", ")
                .map(|c| format!("k.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref()
            .map(|r| Ok((key_from_row(r)?, parse_opt_col(r, "owner_role")?)))
            .transpose()
    }

    async fn invitations(&mut self, limit: u32) -> Result<Vec<tater_domain::Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT {limit}"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(invitation_from_row).collect()
    }

    async fn invitation(
        &mut self,
        id: tater_domain::InvitationId,
    ) -> Result<Option<tater_domain::Invitation>> {
        let lock = if self.mode == Mode::Write {
            D::LOCK
        } else {
            ""
        };
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND id = $2{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn pending_invitation(
        &mut self,
        email: &Email,
    ) -> Result<Option<tater_domain::Invitation>> {
        let lock = if self.mode == Mode::Write {
            D::LOCK
        } else {
            ""
        };
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE tenant_id = $1 AND email = $2 \
             AND status = 'pending'{lock}"
        );
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(email.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn insert_invitation(
        &mut self,
        i: &tater_domain::Invitation,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(&format!(
            "INSERT INTO invitations ({INVITATION_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(self.tenant())
        .bind(i.id.to_string())
        .bind(i.email.as_str())
        .bind(i.role.as_str())
        .bind(i.status.as_str())
        .bind(&i.invited_by)
        .bind(&i.invited_by_email)
        .bind(i.created_at.millis())
        .bind(i.expires_at.millis())
        .bind(i.decided_at.map(Timestamp::millis))
        .bind(i.user.map(|u| u.to_string()))
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn close_invitation(
        &mut self,
        id: tater_domain::InvitationId,
        status: tater_domain::InvitationStatus,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE invitations SET status = $3, decided_at = $4 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(at.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn revoke_api_key(
        &mut self,
        id: ApiKeyId,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let sql = "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL";
        let done = D::query(sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn posture_counts(&mut self) -> Result<Vec<ResultCount>> {
        let rows = D::query(
            "SELECT check_id, status, severity, CAST(SUM(n) AS BIGINT) AS n FROM posture_counts WHERE tenant_id = $1 \
             GROUP BY check_id, status, severity HAVING SUM(n) > 0",
        )
        .bind(self.tenant())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ResultCount {
                    endpoint: None,
                    check_id: Some(row.try_get("check_id")?),
                    status: parse_col(row, "status")?,
                    severity: row.try_get("severity")?,
                    count: row.try_get("n")?,
                })
            })
            .collect()
    }

    async fn latest_tallies(&mut self) -> Result<Vec<ResultCount>> {
        let rows = D::query(
            "SELECT e.id, s.tally FROM endpoints e JOIN scans s ON s.tenant_id = e.tenant_id \
             AND s.id = e.last_scan_id WHERE e.tenant_id = $1 AND e.status = 'active'",
        )
        .bind(self.tenant())
        .fetch_all(&mut *self.tx)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let endpoint: EndpointId = parse_col(row, "id")?;
            let Json(tally): Json<Vec<(String, String, i64)>> = row.try_get("tally")?;
            for (status, severity, count) in tally {
                let status = status.parse().map_err(|_| corrupt("tally status"))?;
                out.push(ResultCount {
                    endpoint: Some(endpoint),
                    check_id: None,
                    status,
                    severity,
                    count,
                });
            }
        }
        Ok(out)
    }

    async fn enrollment_tokens(&mut self) -> Result<Vec<EnrollmentToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE tenant_id = $1 ORDER BY created_at DESC, id"
        );
        let rows = D::query(&sql)
            .bind(self.tenant())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn insert_enrollment_token(
        &mut self,
        t: &EnrollmentToken,
        audit: &AuditDraft,
    ) -> Result<()> {
        D::query(
            "INSERT INTO enrollment_tokens (tenant_id, id, token_hash, prefix, label, single_use, \
             uses, created_at, expires_at, revoked_at, created_by, hostnames) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(self.tenant())
        .bind(t.id.to_string())
        .bind(&t.token_hash)
        .bind(&t.prefix)
        .bind(&t.label)
        .bind(t.single_use)
        .bind(t.uses)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.revoked_at.map(Timestamp::millis))
        .bind(&t.created_by)
        .bind(t.hostnames.as_ref().map(Json))
        .execute(&mut *self.tx)
        .await?;
        self.audited(audit).await
    }

    async fn revoke_enrollment_token(
        &mut self,
        id: EnrollmentTokenId,
        now: Timestamp,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE enrollment_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL",
        )
        .bind(self.tenant())
        .bind(id.to_string())
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        self.audit_if_touched(done.rows_affected(), audit).await
    }

    async fn endpoints(&mut self, q: &EndpointQuery) -> Result<Vec<Endpoint>> {
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1"),
            1,
        );
        if let Some(status) = &q.status {
            let p = b.arg(Arg::Text(status.clone()));
            b.push(&format!(" AND status = {p}"));
        }
        if let Some(text) = &q.q {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let p = b.arg(Arg::Text(format!("%{escaped}%")));
            b.push(&format!(" AND hostname LIKE {p} ESCAPE '\\'"));
        }
        if let Some(after) = &q.after_hostname {
            let p = b.arg(Arg::Text(after.clone()));
            b.push(&format!(" AND hostname > {p}"));
        }
        b.push(&format!(
            " ORDER BY hostname LIMIT {}",
            u64::from(q.limit) + 1
        ));
        let query = D::query(&b.sql).bind(self.tenant());
        let rows = bind_args::<D>(query, &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    async fn endpoint(&mut self, id: EndpointId) -> Result<Option<Endpoint>> {
        let sql =
            format!("SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1 AND id = $2");
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn update_endpoint(
        &mut self,
        e: &Endpoint,
        expected_version: i64,
        audit: &AuditDraft,
    ) -> Result<()> {
        self.audited(audit).await?;
        let tenant = self.tenant();
        let before = endpoint_state::<D>(&mut self.tx, &tenant, &e.id.to_string()).await?;
        let done = D::query(
            "UPDATE endpoints SET tags = $3, status = $4, credential_hash = $5, credential_prefix = $6, \
             version = $7, updated_at = $8, reenroll_allowed_until = $10 \
             WHERE tenant_id = $1 AND id = $2 AND version = $9",
        )
        .bind(&tenant)
        .bind(e.id.to_string())
        .bind(Json(&e.tags))
        .bind(&e.status)
        .bind(&e.credential_hash)
        .bind(&e.credential_prefix)
        .bind(e.version)
        .bind(e.updated_at.millis())
        .bind(expected_version)
        .bind(e.reenroll_allowed_until.map(Timestamp::millis))
        .execute(&mut *self.tx)
        .await?;
        let Some((status, latest, _)) = before.filter(|_| done.rows_affected() > 0) else {
            return Err(match self.endpoint(e.id).await {
                Ok(Some(_)) => {
                    StoreError::Conflict("the endpoint was changed by someone else".into())
                }
                Ok(None) => StoreError::NotFound,
                Err(err) => err,
            });
        };
        follow_status::<D>(
            &mut self.tx,
            &tenant,
            &e.id.to_string(),
            latest.as_deref(),
            status == "active",
            e.status == "active",
        )
        .await
    }

    async fn delete_endpoint(&mut self, id: EndpointId, audit: &AuditDraft) -> Result<()> {
        self.audited(audit).await?;
        let tenant = self.tenant();
        let (status, latest, _) = endpoint_state::<D>(&mut self.tx, &tenant, &id.to_string())
            .await?
            .ok_or(StoreError::NotFound)?;
        follow_status::<D>(
            &mut self.tx,
            &tenant,
            &id.to_string(),
            latest.as_deref(),
            status == "active",
            false,
        )
        .await?;
        D::query("DELETE FROM endpoints WHERE tenant_id = $1 AND id = $2")
            .bind(&tenant)
            .bind(id.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn scan(&mut self, id: ScanId) -> Result<Option<Scan>> {
        let sql = format!("SELECT {SCAN_COLUMNS} FROM scans WHERE tenant_id = $1 AND id = $2");
        let row = D::query(&sql)
            .bind(self.tenant())
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(scan_from_row).transpose()
    }

    async fn insert_scan(
        &mut self,
        scan: &Scan,
        results: &[ScanResult],
        audit: &AuditDraft,
    ) -> Result<()> {
        let tenant = self.tenant();
        let scan_id = scan.id.to_string();
        let endpoint = scan.endpoint.to_string();
        D::query(
            "INSERT INTO scans (tenant_id, id, endpoint_id, started_at, finished_at, received_at, counts, tally) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&tenant)
        .bind(&scan_id)
        .bind(&endpoint)
        .bind(scan.started_at.millis())
        .bind(scan.finished_at.millis())
        .bind(scan.received_at.millis())
        .bind(Json(counts_json(&scan.counts)))
        .bind(Json(tally_json(results)))
        .execute(&mut *self.tx)
        .await?;
        for chunk in results.chunks(RESULT_BATCH) {
            let mut b = SqlBuilder::new(
                D::KIND,
                "INSERT INTO scan_results (tenant_id, scan_id, check_id, status, severity, evidence) VALUES ",
                0,
            );
            b.values(chunk.iter().map(|r| {
                vec![
                    Arg::Text(tenant.clone()),
                    Arg::Text(scan_id.clone()),
                    Arg::Text(r.check_id.clone()),
                    Arg::Text(r.status.as_str().to_owned()),
                    Arg::Text(r.severity.clone()),
                    Arg::Text(r.evidence.clone()),
                ]
            }));
            bind_args::<D>(D::query(&b.sql), &b.args)
                .execute(&mut *self.tx)
                .await?;
        }
        // Only now the audit head: it orders the tenant's writers, so the shared posture
        // rows below are always locked in one order (no deadlocks), while the bulk of
        // the work above ran in parallel with other reports.
        self.audited(audit).await?;
        let (status, old_latest, old_finished) =
            endpoint_state::<D>(&mut self.tx, &tenant, &endpoint)
                .await?
                .ok_or(StoreError::NotFound)?;
        // The newest finished scan is the endpoint's latest; a late retry of an older
        // scan is stored but does not replace it.
        let newer = old_finished.is_none_or(|f| f <= scan.finished_at.millis());
        if newer {
            if status == "active" {
                move_posture::<D>(
                    &mut self.tx,
                    &tenant,
                    &endpoint,
                    old_latest.as_deref(),
                    Some(&scan_id),
                )
                .await?;
            }
            D::query("UPDATE endpoints SET last_seen_at = $3, last_scan_id = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(&tenant)
                .bind(&endpoint)
                .bind(scan.received_at.millis())
                .bind(&scan_id)
                .execute(&mut *self.tx)
                .await?;
        } else {
            D::query("UPDATE endpoints SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(&tenant)
                .bind(&endpoint)
                .bind(scan.received_at.millis())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn scan_results(&mut self, scan: ScanId) -> Result<Vec<ScanResult>> {
        let rows = D::query(
            "SELECT check_id, status, severity, evidence FROM scan_results \
             WHERE tenant_id = $1 AND scan_id = $2 ORDER BY check_id",
        )
        .bind(self.tenant())
        .bind(scan.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(result_from_row).collect()
    }

    async fn scans(
        &mut self,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Scan>> {
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {SCAN_COLUMNS} FROM scans WHERE tenant_id = $1"),
            1,
        );
        if let Some(f) = from {
            let p = b.arg(Arg::Int(f.millis()));
            b.push(&format!(" AND finished_at >= {p}"));
        }
        if let Some(t) = to {
            let p = b.arg(Arg::Int(t.millis()));
            b.push(&format!(" AND finished_at < {p}"));
        }
        b.push(&format!(
            " ORDER BY finished_at, id LIMIT {}",
            u64::from(limit) + 1
        ));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(scan_from_row).collect()
    }

    async fn latest_result_counts(
        &mut self,
        group: ResultGroup,
        f: &ResultFilter,
    ) -> Result<Vec<ResultCount>> {
        let key = match group {
            ResultGroup::Check => "r.check_id",
            ResultGroup::Endpoint => "e.id",
        };
        let mut b = SqlBuilder::new(
            D::KIND,
            format!("SELECT {key} AS k, r.status, r.severity, COUNT(*) AS n {LATEST_RESULTS}"),
            1,
        );
        if !push_result_filter(&mut b, f) {
            return Ok(Vec::new());
        }
        b.push(&format!(" GROUP BY {key}, r.status, r.severity"));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|row| {
                let k: String = row.try_get("k")?;
                let (endpoint, check_id) = match group {
                    ResultGroup::Check => (None, Some(k)),
                    ResultGroup::Endpoint => {
                        (Some(k.parse().map_err(|_| corrupt("endpoint id"))?), None)
                    }
                };
                Ok(ResultCount {
                    endpoint,
                    check_id,
                    status: parse_col(row, "status")?,
                    severity: row.try_get("severity")?,
                    count: row.try_get("n")?,
                })
            })
            .collect()
    }

    async fn latest_results_of(
        &mut self,
        checks: &[String],
        status: CheckStatus,
        limit: u32,
    ) -> Result<Vec<(EndpointId, ScanResult)>> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let mut b = SqlBuilder::new(
            D::KIND,
            format!(
                "SELECT e.id AS endpoint_id, r.check_id, r.status, r.severity, r.evidence {LATEST_RESULTS}"
            ),
            1,
        );
        let p = b.arg(Arg::Text(status.as_str().to_owned()));
        b.push(&format!(" AND r.status = {p} AND r.check_id"));
        b.in_list(checks.iter().map(|c| Arg::Text(c.clone())));
        b.push(&format!(" ORDER BY e.hostname, r.check_id LIMIT {limit}"));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((parse_col(r, "endpoint_id")?, result_from_row(r)?)))
            .collect()
    }

    async fn latest_results_page(
        &mut self,
        f: &ResultFilter,
        after: Option<&ResultKey>,
        limit: u32,
        max_bytes: u64,
    ) -> Result<(Vec<LatestResult>, bool)> {
        // The keys and evidence sizes of the candidates first, then only the rows that
        // fit are read with their evidence.
        let select = |columns: &str, n: u64| -> Option<SqlBuilder> {
            let mut b = SqlBuilder::new(D::KIND, format!("SELECT {columns} {LATEST_RESULTS}"), 1);
            if !push_result_filter(&mut b, f) {
                return None;
            }
            if let Some(k) = after {
                let h = b.arg(Arg::Text(k.hostname.clone()));
                let e = b.arg(Arg::Text(k.endpoint.to_string()));
                let c = b.arg(Arg::Text(k.check_id.clone()));
                b.push(&format!(
                    " AND (e.hostname, e.id, r.check_id) > ({h}, {e}, {c})"
                ));
            }
            b.push(&format!(" ORDER BY e.hostname, e.id, r.check_id LIMIT {n}"));
            Some(b)
        };
        let sizing = format!(
            "CAST({} + 256 AS BIGINT) AS size_bytes",
            byte_length(D::KIND, "r.evidence")
        );
        let Some(b) = select(&sizing, u64::from(limit) + 1) else {
            return Ok((Vec::new(), false));
        };
        let sized = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let sizes = sized
            .iter()
            .map(|r| r.try_get::<i64>("size_bytes"))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let (n, more) = fit_page(&sizes, limit, max_bytes);
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        let Some(b) = select(
            "e.id AS endpoint_id, e.hostname, e.last_scan_id AS scan_id, r.check_id, r.status, r.severity, r.evidence",
            n as u64,
        ) else {
            return Ok((Vec::new(), false));
        };
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        let page = rows
            .iter()
            .map(|r| {
                Ok(LatestResult {
                    endpoint: parse_col(r, "endpoint_id")?,
                    hostname: r.try_get("hostname")?,
                    scan: parse_col(r, "scan_id")?,
                    result: result_from_row(r)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((page, more))
    }

    async fn record_event(&mut self, audit: &AuditDraft) -> Result<()> {
        self.audited(audit).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        if self.refused {
            // Dropping the transaction rolls it back.
            return Err(StoreError::ReadOnly);
        }
        Ok(self.tx.commit().await?)
    }
}

impl<D: Driver> EngineTenantTx<D> {
    /// Writes the audit entry of a change that had to touch a row; `NotFound` if it
    /// touched none (another tenant's or a missing row).
    async fn audit_if_touched(&mut self, rows: u64, audit: &AuditDraft) -> Result<()> {
        if rows == 0 {
            return Err(StoreError::NotFound);
        }
        self.audited(audit).await
    }

    /// After an update or delete touched no row: was the record deleted, or changed?
    async fn missing_or_changed(&mut self, module: &str, id: RecordId) -> StoreError {
        match self.get_record(module, id).await {
            Ok(Some(_)) => StoreError::Conflict("the record was changed by someone else".into()),
            Ok(None) => StoreError::NotFound,
            Err(e) => e,
        }
    }
}

/// The delivery worker's cross-tenant transaction (SPEC T2: a named system operation).
pub struct EngineDeliveryTx<D: Driver> {
    pub(crate) tx: sqlx::Transaction<'static, D::Db>,
}

#[async_trait]
impl<D: Driver> DeliveryTx for EngineDeliveryTx<D> {
    async fn claim_due(
        &mut self,
        owner: &str,
        now: Timestamp,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DueDestination>> {
        let sql = format!(
            "UPDATE siem_destinations SET lease_owner = $1, lease_until = $2 \
             WHERE (tenant_id, id) IN (SELECT d.tenant_id, d.id FROM siem_destinations d \
             WHERE d.enabled AND d.next_attempt_at <= $3 \
             AND (d.lease_until IS NULL OR d.lease_until < $3 OR d.lease_owner = $1) \
             AND EXISTS (SELECT 1 FROM siem_outbox o WHERE o.tenant_id = d.tenant_id \
             AND o.destination_id = d.id AND o.state = 'pending') \
             ORDER BY d.next_attempt_at LIMIT $4{}) \
             RETURNING tenant_id, id, kind, config, secret_enc, attempts, failing_since",
            D::SKIP_LOCKED
        );
        let rows = D::query(&sql)
            .bind(owner)
            .bind(now.millis() + lease_ms)
            .bind(now.millis())
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                let Json(config): Json<Value> = r.try_get("config")?;
                let kind: String = r.try_get("kind")?;
                Ok(DueDestination {
                    org: parse_col(r, "tenant_id")?,
                    id: parse_col(r, "id")?,
                    kind: kind.parse().map_err(|_| corrupt("kind"))?,
                    config,
                    secret_enc: r.try_get("secret_enc")?,
                    attempts: r.try_get("attempts")?,
                    failing_since: opt_ts(r, "failing_since")?,
                })
            })
            .collect()
    }

    async fn pending(
        &mut self,
        org: OrgId,
        id: DestinationId,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let rows = D::query(
            "SELECT a.tenant_id, a.seq, a.id, a.action, a.entity_type, a.entity_id, a.user_id, \
             a.upn, a.oid, a.ts, a.via, a.changes, a.prev_hash, a.hash, a.key_id, a.signature \
             FROM siem_outbox o JOIN audit_log a ON a.tenant_id = o.tenant_id AND a.seq = o.seq \
             WHERE o.tenant_id = $1 AND o.destination_id = $2 AND o.state = 'pending' \
             ORDER BY o.seq LIMIT $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn delivered(
        &mut self,
        org: OrgId,
        id: DestinationId,
        through_seq: i64,
        count: i64,
        now: Timestamp,
    ) -> Result<()> {
        // The destination row first, then its outbox rows: the order deleting a
        // destination takes them in, so the two never wait on each other.
        D::query(
            "UPDATE siem_destinations SET delivered = delivered + $3, last_success_at = $4, \
             attempts = 0, failing_since = NULL, next_attempt_at = 0 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(count)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "DELETE FROM siem_outbox WHERE tenant_id = $1 AND destination_id = $2 \
             AND state = 'pending' AND seq <= $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(through_seq)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn failed(
        &mut self,
        org: OrgId,
        id: DestinationId,
        seq: i64,
        error: &str,
        now: Timestamp,
        retry_at: Timestamp,
    ) -> Result<()> {
        // The destination row first, then its outbox rows: the order deleting a
        // destination takes them in, so the two never wait on each other.
        D::query(
            "UPDATE siem_destinations SET attempts = attempts + 1, last_error = $3, \
             last_error_at = $4, failing_since = COALESCE(failing_since, $4), \
             next_attempt_at = $5 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(error)
        .bind(now.millis())
        .bind(retry_at.millis())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "UPDATE siem_outbox SET attempts = attempts + 1, last_error = $4 \
             WHERE tenant_id = $1 AND destination_id = $2 AND seq = $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(seq)
        .bind(error)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn dead(
        &mut self,
        org: OrgId,
        id: DestinationId,
        seq: i64,
        error: &str,
        now: Timestamp,
    ) -> Result<()> {
        // The destination row first, then its outbox rows: the order deleting a
        // destination takes them in, so the two never wait on each other.
        D::query(
            "UPDATE siem_destinations SET last_error = $3, last_error_at = $4 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(error)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        D::query(
            "UPDATE siem_outbox SET state = 'dead', attempts = attempts + 1, last_error = $4, \
             dead_at = $5 WHERE tenant_id = $1 AND destination_id = $2 AND seq = $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(seq)
        .bind(error)
        .bind(now.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn release_all(&mut self, owner: &str) -> Result<u64> {
        let done = D::query(
            "UPDATE siem_destinations SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1",
        )
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    async fn release(&mut self, org: OrgId, id: DestinationId, owner: &str) -> Result<()> {
        D::query(
            "UPDATE siem_destinations SET lease_owner = NULL, lease_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND lease_owner = $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(owner)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// A transaction on identity data.
pub struct EngineIdentityTx<D: Driver> {
    pub(crate) tx: sqlx::Transaction<'static, D::Db>,
    pub(crate) audit: std::sync::Arc<AuditSettings>,
}

#[async_trait]
impl<D: Driver> IdentityTx for EngineIdentityTx<D> {
    async fn publish_release(&mut self, r: &crate::AgentRelease, content: &[u8]) -> Result<()> {
        D::query(
            "INSERT INTO agent_releases (version, os, arch, sha256, size, signature, content, published_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (version, os, arch) DO UPDATE SET \
             sha256 = excluded.sha256, size = excluded.size, signature = excluded.signature, \
             content = excluded.content, published_at = excluded.published_at",
        )
        .bind(&r.version)
        .bind(&r.os)
        .bind(&r.arch)
        .bind(&r.sha256)
        .bind(r.size)
        .bind(&r.signature)
        .bind(&[] as &[u8])
        .bind(r.published_at.millis())
        .execute(&mut *self.tx)
        .await?;
        D::query("DELETE FROM agent_release_chunks WHERE version = $1 AND os = $2 AND arch = $3")
            .bind(&r.version)
            .bind(&r.os)
            .bind(&r.arch)
            .execute(&mut *self.tx)
            .await?;
        for (seq, chunk) in content.chunks(crate::RELEASE_CHUNK_BYTES).enumerate() {
            D::query(
                "INSERT INTO agent_release_chunks (version, os, arch, seq, bytes) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&r.version)
            .bind(&r.os)
            .bind(&r.arch)
            .bind(seq as i64)
            .bind(chunk)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn releases(&mut self) -> Result<Vec<crate::AgentRelease>> {
        let rows = D::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM agent_releases ORDER BY published_at"
        ))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(release_from_row).collect()
    }

    async fn release(
        &mut self,
        version: &str,
        os: &str,
        arch: &str,
    ) -> Result<Option<crate::AgentRelease>> {
        let row = D::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM agent_releases WHERE version = $1 AND os = $2 AND arch = $3"
        ))
        .bind(version)
        .bind(os)
        .bind(arch)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.as_ref().map(release_from_row).transpose()
    }

    async fn release_chunk(
        &mut self,
        version: &str,
        os: &str,
        arch: &str,
        seq: i64,
    ) -> Result<Option<Vec<u8>>> {
        let row = D::query(
            "SELECT bytes FROM agent_release_chunks WHERE version = $1 AND os = $2 AND arch = $3 AND seq = $4",
        )
        .bind(version)
        .bind(os)
        .bind(arch)
        .bind(seq)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(|r| r.try_get("bytes")).transpose()?)
    }

    async fn orgs_with_pending_jobs(&mut self) -> Result<Vec<OrgId>> {
        let rows = D::query(
            "SELECT DISTINCT tenant_id FROM job_targets WHERE status = 'pending' ORDER BY tenant_id",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter().map(|r| parse_col(r, "tenant_id")).collect()
    }

    async fn checkpoint_audit_heads(&mut self, now: Timestamp) -> Result<u64> {
        let rows = D::query(
            "SELECT h.tenant_id, h.last_seq, h.head_hash FROM audit_heads h \
             WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints c \
             WHERE c.tenant_id = h.tenant_id AND c.seq = h.last_seq)",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        for row in &rows {
            let cp = tater_audit::Checkpoint::new(
                parse_col(row, "tenant_id")?,
                row.try_get("last_seq")?,
                &row.try_get::<String>("head_hash")?,
                now,
                &self.audit.keys,
            );
            insert_checkpoint::<D>(&mut *self.tx, &cp).await?;
        }
        Ok(rows.len() as u64)
    }

    async fn org(&mut self, id: OrgId) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = $1");
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn org_by_name(&mut self, name: &str) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE lower(name) = lower($1)");
        let row = D::query(&sql)
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn org_by_entra_tenant(&mut self, tid: &str) -> Result<Option<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations WHERE entra_tenant_id = $1");
        let row = D::query(&sql)
            .bind(tid)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    async fn users_by_entra_oid(&mut self, oid: &str) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE entra_oid = $1 ORDER BY id");
        let rows = D::query(&sql).bind(oid).fetch_all(&mut *self.tx).await?;
        rows.iter().map(|r| user_from_row(r, "")).collect()
    }

    async fn orgs(&mut self) -> Result<Vec<Org>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM organizations ORDER BY name, id");
        let rows = D::query(&sql).fetch_all(&mut *self.tx).await?;
        rows.iter().map(org_from_row).collect()
    }

    async fn insert_org(&mut self, org: &Org, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO organizations (id, name, entra_tenant_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(org.id.to_string())
        .bind(&org.name)
        .bind(&org.entra_tenant_id)
        .bind(org.created_at.millis())
        .bind(org.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        append_audit::<D>(&mut self.tx, &self.audit, org.id, audit).await
    }

    async fn user(&mut self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(|r| user_from_row(r, "")).transpose()
    }

    async fn user_by_email(&mut self, email: &Email) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        let row = D::query(&sql)
            .bind(email.as_str())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(|r| user_from_row(r, "")).transpose()
    }

    async fn insert_user(&mut self, user: &User, audits: &[(OrgId, AuditDraft)]) -> Result<()> {
        insert_user_row::<D>(&mut self.tx, user).await?;
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn update_user(&mut self, user: &User, audits: &[(OrgId, AuditDraft)]) -> Result<()> {
        let done = D::query(
            "UPDATE users SET email = $2, display_name = $3, password_hash = $4, \
             entra_oid = $5, tokens_valid_after = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(user.id.to_string())
        .bind(user.email.as_str())
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(&user.entra_oid)
        .bind(user.tokens_valid_after.millis())
        .bind(user.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn memberships_of(&mut self, user: UserId) -> Result<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.user_id = $1 ORDER BY m.tenant_id"
        );
        let rows = D::query(&sql)
            .bind(user.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter().map(membership_from_row).collect()
    }

    async fn invitations_for(
        &mut self,
        email: &Email,
    ) -> Result<Vec<(tater_domain::Invitation, String)>> {
        let sql = format!(
            "SELECT {}, o.name AS org_name FROM invitations i JOIN organizations o ON o.id = i.tenant_id \
             WHERE i.email = $1 AND i.status = 'pending' ORDER BY i.created_at DESC, i.id",
            INVITATION_COLUMNS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = D::query(&sql)
            .bind(email.as_str())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| Ok((invitation_from_row(r)?, r.try_get("org_name")?)))
            .collect()
    }

    async fn invitation_by_id(
        &mut self,
        id: tater_domain::InvitationId,
    ) -> Result<Option<tater_domain::Invitation>> {
        let sql = format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = $1{}",
            D::LOCK
        );
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(invitation_from_row).transpose()
    }

    async fn decide_invitation(
        &mut self,
        i: &tater_domain::Invitation,
        status: tater_domain::InvitationStatus,
        at: Timestamp,
        user: Option<UserId>,
        audit: &AuditDraft,
    ) -> Result<()> {
        let done = D::query(
            "UPDATE invitations SET status = $3, decided_at = $4, user_id = $5 \
             WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
        )
        .bind(i.org.to_string())
        .bind(i.id.to_string())
        .bind(status.as_str())
        .bind(at.millis())
        .bind(user.map(|u| u.to_string()))
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        append_audit::<D>(&mut self.tx, &self.audit, i.org, audit).await
    }

    async fn put_membership(&mut self, m: &Membership, audit: &AuditDraft) -> Result<()> {
        D::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id) \
             DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
        )
        .bind(m.org.to_string())
        .bind(m.user.to_string())
        .bind(m.role.as_str())
        .bind(m.created_at.millis())
        .bind(m.updated_at.millis())
        .execute(&mut *self.tx)
        .await?;
        append_audit::<D>(&mut self.tx, &self.audit, m.org, audit).await
    }

    async fn api_key(&mut self, id: ApiKeyId) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
        let row = D::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn api_key_by_hash(&mut self, key_hash: &str) -> Result<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
        let row = D::query(&sql)
            .bind(key_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    async fn api_key_identity(
        &mut self,
        key_hash: &str,
    ) -> Result<Option<(ApiKey, User, Vec<Membership>)>> {
        // One round trip: the key, its user, and one row per membership.
        let sql = format!(
            "SELECT {}, {}, {MEMBERSHIP_COLUMNS} FROM api_keys k \
             JOIN users u ON u.id = k.user_id \
             LEFT JOIN memberships m ON m.user_id = u.id \
             WHERE k.key_hash = $1 ORDER BY m.tenant_id",
            KEY_COLUMNS
                .split(", ")
                .map(|c| format!("k.{c}"))
                .collect::<Vec<_>>()
                .join(", "),
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(key_hash)
            .fetch_all(&mut *self.tx)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        Ok(Some((
            key_from_row(first)?,
            user_from_row(first, "u_")?,
            memberships_from_rows(&rows)?,
        )))
    }

    async fn entra_identity(
        &mut self,
        tid: &str,
        oid: &str,
    ) -> Result<Option<(OrgId, User, Vec<Membership>)>> {
        let sql = format!(
            "SELECT o.id AS org_id, {}, {MEMBERSHIP_COLUMNS} FROM organizations o \
             JOIN users u ON u.entra_oid = $2 \
             LEFT JOIN memberships m ON m.user_id = u.id \
             WHERE o.entra_tenant_id = $1 ORDER BY u.id, m.tenant_id",
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(tid)
            .bind(oid)
            .fetch_all(&mut *self.tx)
            .await?;
        // Rows come grouped by user; pick the user who is a member of the org.
        let mut start = 0;
        while start < rows.len() {
            let user_id: String = rows[start].try_get("u_id")?;
            let mut end = start + 1;
            while end < rows.len() && rows[end].try_get::<String>("u_id")? == user_id {
                end += 1;
            }
            let group = &rows[start..end];
            let org: OrgId = parse_col(&group[0], "org_id")?;
            let memberships = memberships_from_rows(group)?;
            if memberships.iter().any(|m| m.org == org) {
                return Ok(Some((org, user_from_row(&group[0], "u_")?, memberships)));
            }
            start = end;
        }
        Ok(None)
    }

    async fn user_identity(&mut self, id: UserId) -> Result<Option<(User, Vec<Membership>)>> {
        let sql = format!(
            "SELECT {}, {MEMBERSHIP_COLUMNS} FROM users u \
             LEFT JOIN memberships m ON m.user_id = u.id WHERE u.id = $1 ORDER BY m.tenant_id",
            user_columns_as_u()
        );
        let rows = D::query(&sql)
            .bind(id.to_string())
            .fetch_all(&mut *self.tx)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        Ok(Some((
            user_from_row(first, "u_")?,
            memberships_from_rows(&rows)?,
        )))
    }

    async fn insert_api_key(&mut self, key: &ApiKey, audits: &[(OrgId, AuditDraft)]) -> Result<()> {
        insert_key_row::<D>(&mut self.tx, key).await?;
        append_audits::<D>(&mut self.tx, &self.audit, audits).await
    }

    async fn enrollment_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<EnrollmentToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM enrollment_tokens WHERE token_hash = $1");
        let row = D::query(&sql)
            .bind(token_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn endpoint_by_hostname(
        &mut self,
        org: OrgId,
        hostname: &str,
    ) -> Result<Option<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE tenant_id = $1 AND hostname = $2"
        );
        let row = D::query(&sql)
            .bind(org.to_string())
            .bind(hostname)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn enroll_endpoint(
        &mut self,
        token: &EnrollmentToken,
        e: &Endpoint,
        existed: bool,
        audit: &AuditDraft,
    ) -> Result<()> {
        let org = token.org.to_string();
        append_audit::<D>(&mut self.tx, &self.audit, token.org, audit).await?;
        if existed {
            // Only the active endpoint as the caller read it: a retired one stays
            // retired, and a concurrent re-enrolment (or a used allowance) loses.
            let done = D::query(
                "UPDATE endpoints SET os = $3, os_version = $4, arch = $5, agent_version = $6, \
                 credential_hash = $7, credential_prefix = $8, enrolled_at = $9, \
                 last_seen_at = $9, reenroll_allowed_until = NULL, version = version + 1, updated_at = $9 \
                 WHERE tenant_id = $1 AND id = $2 AND status = 'active' AND version = $10",
            )
            .bind(&org)
            .bind(e.id.to_string())
            .bind(&e.os)
            .bind(&e.os_version)
            .bind(&e.arch)
            .bind(&e.agent_version)
            .bind(&e.credential_hash)
            .bind(&e.credential_prefix)
            .bind(e.enrolled_at.millis())
            .bind(e.version - 1)
            .execute(&mut *self.tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
        } else {
            D::query(
                "INSERT INTO endpoints (tenant_id, id, hostname, os, os_version, arch, agent_version, \
                 tags, status, credential_hash, credential_prefix, enrolled_at, last_seen_at, \
                 last_scan_id, version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, $11, NULL, 1, $11, $11)",
            )
            .bind(&org)
            .bind(e.id.to_string())
            .bind(&e.hostname)
            .bind(&e.os)
            .bind(&e.os_version)
            .bind(&e.arch)
            .bind(&e.agent_version)
            .bind(Json(&e.tags))
            .bind(&e.credential_hash)
            .bind(&e.credential_prefix)
            .bind(e.enrolled_at.millis())
            .execute(&mut *self.tx)
            .await?;
        }
        // Counting the use in the same statement as its condition keeps a single-use
        // token single-use under concurrent enrolments.
        let used = D::query(
            "UPDATE enrollment_tokens SET uses = uses + 1 WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL AND (single_use = $3 OR uses = 0)",
        )
        .bind(&org)
        .bind(token.id.to_string())
        .bind(false)
        .execute(&mut *self.tx)
        .await?;
        if used.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the enrollment token was used or revoked".into(),
            ));
        }
        Ok(())
    }

    async fn endpoint_by_credential(&mut self, credential_hash: &str) -> Result<Option<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE credential_hash = $1 AND status = 'active'"
        );
        let row = D::query(&sql)
            .bind(credential_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    async fn touch_endpoint(&mut self, org: OrgId, id: EndpointId, now: Timestamp) -> Result<()> {
        D::query("UPDATE endpoints SET last_seen_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn touch_api_key(&mut self, id: ApiKeyId, now: Timestamp) -> Result<()> {
        D::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(now.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        Ok(self.tx.commit().await?)
    }
}
