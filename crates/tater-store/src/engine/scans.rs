//! Scans, their results, and the posture counts kept current as scans arrive.

use super::*;

pub(super) const SCAN_COLUMNS: &str =
    "tenant_id, id, endpoint_id, started_at, finished_at, received_at, counts";
/// The latest scan's results of each active endpoint of tenant `$1`.
pub(super) const LATEST_RESULTS: &str = "FROM endpoints e JOIN scan_results r \
     ON r.tenant_id = e.tenant_id AND r.scan_id = e.last_scan_id \
     WHERE e.tenant_id = $1 AND e.status = 'active'";
/// Rows per multi-row insert of scan results (6 parameters each).
pub(super) const RESULT_BATCH: usize = 500;
pub(super) fn counts_json(c: &Counts) -> Value {
    serde_json::json!({
        "pass": c.pass, "fail": c.fail, "manualReview": c.manual_review,
        "skip": c.skip, "error": c.error, "notApplicable": c.not_applicable,
    })
}

pub(super) fn scan_from_row(row: &impl RowRead) -> Result<Scan> {
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
pub(super) fn push_result_filter(b: &mut SqlBuilder, f: &ResultFilter) -> bool {
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
    if let Some(endpoints) = &f.endpoints {
        if endpoints.is_empty() {
            return false;
        }
        b.push(" AND e.id");
        b.in_list(endpoints.iter().map(|e| Arg::Text(e.to_string())));
    }
    true
}

pub(super) fn result_from_row(row: &impl RowRead) -> Result<ScanResult> {
    Ok(ScanResult {
        check_id: row.try_get("check_id")?,
        status: parse_col(row, "status")?,
        severity: row.try_get("severity")?,
        evidence: row.try_get("evidence")?,
    })
}

/// Shards of the posture counters (see migration 0003).
pub(super) const POSTURE_SHARDS: u32 = 16;

/// The counter shard of an endpoint.
pub(super) fn shard_of(endpoint: &str) -> i64 {
    let h = endpoint
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    i64::from(h % POSTURE_SHARDS)
}

/// Moves the endpoint's contribution to the posture counts from scan `from` to scan
/// `to` (either may be absent): only the results that differ between the two change a
/// counter, so a routine re-scan touches few rows.
///
/// One statement, its rows in key order: two transactions moving counters of the same
/// shard lock the shared rows in the same order, so they wait for each other instead of
/// deadlocking, and neither needs the tenant's audit head (taken last) to be safe.
pub(super) async fn move_posture<D: Driver>(
    conn: &mut Conn<D>,
    tenant: &str,
    endpoint: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<()> {
    // Each (check, status, severity) key of the new scan counts +1, of the old one -1; a key
    // in both sums to 0 and moves nothing. One pass over each scan's results, grouped: a pair
    // of set differences read each scan twice (a tenth of a report's time on PostgreSQL),
    // and a correlated NOT EXISTS misplans there (generic plans guess one row per side and a
    // nested anti-join costs seconds per report).
    let pick = |scan: &str, sign: i64| {
        format!(
            "SELECT check_id, status, severity, {sign} AS d FROM scan_results \
             WHERE tenant_id = $1 AND scan_id = {scan}"
        )
    };
    let delta = match (from, to) {
        (None, None) => return Ok(()),
        (None, Some(_)) => pick("$3", 1),
        (Some(_), None) => pick("$3", -1),
        (Some(_), Some(_)) => format!(
            "SELECT k.check_id, k.status, k.severity, SUM(k.d) AS d FROM ({} UNION ALL {}) k \
             GROUP BY k.check_id, k.status, k.severity HAVING SUM(k.d) <> 0",
            pick("$4", 1),
            pick("$3", -1)
        ),
    };
    // `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
    let sql = format!(
        "INSERT INTO posture_counts (tenant_id, check_id, status, severity, shard, n) \
         SELECT $1, d.check_id, d.status, d.severity, $2, d.d FROM ({delta}) d WHERE true \
         ORDER BY d.check_id, d.status, d.severity \
         ON CONFLICT (tenant_id, check_id, status, severity, shard) \
         DO UPDATE SET n = posture_counts.n + excluded.n"
    );
    let q = D::query(&sql).bind(tenant).bind(shard_of(endpoint));
    let q = match (from, to) {
        (Some(old), Some(new)) => q.bind(old).bind(new),
        (Some(only), None) | (None, Some(only)) => q.bind(only),
        (None, None) => return Ok(()),
    };
    q.execute(&mut *conn).await?;
    Ok(())
}

/// An endpoint's status and latest scan (with when it finished), before a change; the
/// endpoint's row stays locked (`lock`) until the transaction ends.
///
/// Lock order of every transaction that changes an endpoint or the posture counts: this
/// row first, then the shared posture counters (in key order, see [`move_posture`]), the
/// tenant's audit head last. The head orders all of a tenant's writers, so holding it only
/// for the entry and the commit lets the rest of concurrent reports run side by side.
pub(super) async fn endpoint_state<D: Driver>(
    conn: &mut Conn<D>,
    tenant: &str,
    id: &str,
    lock: RowLock,
) -> Result<Option<(String, Option<String>, Option<i64>)>> {
    // Two statements: on PostgreSQL a locking read that waited for another writer of the
    // row re-reads that row only, so a joined latest scan would come from the old
    // snapshot (and miss the scan the other writer just made latest).
    let sql = format!(
        "SELECT e.status, e.last_scan_id FROM endpoints e WHERE e.tenant_id = $1 AND e.id = $2{}",
        lock_rows_of(D::KIND, lock, "e")
    );
    let Some(row) = D::query(&sql)
        .bind(tenant)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let latest: Option<String> = row.try_get("last_scan_id")?;
    let finished = match &latest {
        Some(scan) => D::query("SELECT finished_at FROM scans WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(scan)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get::<i64>("finished_at"))
            .transpose()?,
        None => None,
    };
    Ok(Some((status, latest, finished)))
}

/// Keeps posture counts right when an endpoint goes from `was_active` to `is_active`
/// with the same latest scan.
pub(super) async fn follow_status<D: Driver>(
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

pub(super) fn tally_json(results: &[ScanResult]) -> Value {
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

#[async_trait]
impl<D: Driver> ScansTx for EngineTenantTx<D> {
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

    async fn latest_tallies(&mut self, of: &[EndpointId]) -> Result<Vec<ResultCount>> {
        if of.is_empty() {
            return Ok(Vec::new());
        }
        let mut b = SqlBuilder::new(
            D::KIND,
            "SELECT e.id, s.tally FROM endpoints e JOIN scans s ON s.tenant_id = e.tenant_id \
             AND s.id = e.last_scan_id WHERE e.tenant_id = $1 AND e.status = 'active' AND e.id",
            1,
        );
        b.in_list(of.iter().map(|e| Arg::Text(e.to_string())));
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
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
        let (status, old_latest, old_finished) =
            endpoint_state::<D>(&mut self.tx, &tenant, &endpoint, RowLock::Update)
                .await?
                .ok_or(StoreError::NotFound)?;
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
        // The audit head last (see `endpoint_state`): concurrent reports of one tenant
        // wait for each other only for the entry and the commit.
        self.audited(audit).await
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
        const COLUMNS: &str = "e.id AS endpoint_id, e.hostname, e.last_scan_id AS scan_id, r.check_id, r.status, r.severity, r.evidence";
        let sizing = format!(
            "CAST({} + 256 AS BIGINT) AS size_bytes",
            byte_length(D::KIND, "r.evidence")
        );
        let Some(b) = select(&format!("{COLUMNS}, {sizing}"), u64::from(limit) + 1) else {
            return Ok((Vec::new(), false));
        };
        // Where the driver stops at the first row that does not fit, one read.
        if let Some(read) = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_page(&mut *self.tx, PageFit::new(limit, max_bytes), "size_bytes")
        {
            let (rows, more) = read.await?;
            return Ok((latest_results_of_rows(&rows)?, more));
        }
        // Elsewhere, the keys and evidence sizes of the candidates first, then only the rows
        // that fit are read with their evidence.
        let Some(b) = select(&sizing, u64::from(limit) + 1) else {
            return Ok((Vec::new(), false));
        };
        let sizing = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args);
        let (_, n, more) = sizing_read::<D>(&mut *self.tx, sizing, limit, max_bytes).await?;
        if n == 0 {
            return Ok((Vec::new(), false));
        }
        let Some(b) = select(COLUMNS, n as u64) else {
            return Ok((Vec::new(), false));
        };
        let rows = bind_args::<D>(D::query(&b.sql).bind(self.tenant()), &b.args)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok((latest_results_of_rows(&rows)?, more))
    }
}

/// Latest results as the page reads them (endpoint, hostname, scan, then the result).
fn latest_results_of_rows(rows: &[impl RowRead]) -> Result<Vec<LatestResult>> {
    rows.iter()
        .map(|r| {
            Ok(LatestResult {
                endpoint: parse_col(r, "endpoint_id")?,
                hostname: r.try_get("hostname")?,
                scan: parse_col(r, "scan_id")?,
                result: result_from_row(r)?,
            })
        })
        .collect()
}
