//! Reading the audit log (SPEC L3).

use serde_json::Value;
use tater_audit::export::{ExportEnd, ExportHeader, Line};
use tater_audit::{Report, Verifier};
use tater_domain::module::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

use crate::paging::PAGE_BYTES;
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{Actor, AuditEntry, Timestamp, ValidationErrors};
use tater_store::{AuditQuery, Mode, TenantTx};

use crate::{Page, Service, ServiceError, ServiceResult};

/// An entry as the API returns it (the same object as an export line).
pub fn audit_entry_view(e: &AuditEntry) -> Value {
    tater_audit::entry_json(e)
}

const MAX_FILTER_LEN: usize = 200;

/// Parses `via`, `userId`, `entityType`, `entityId`, `action`, `from`, `to`, `limit`, `cursor`.
pub fn parse_audit_query(params: &[(String, String)]) -> Result<AuditQuery, ValidationErrors> {
    let mut q = AuditQuery {
        limit: DEFAULT_PAGE_SIZE,
        ..Default::default()
    };
    let mut errors = ValidationErrors::new();
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in params {
        if seen.contains(&key.as_str()) {
            errors.add(key.as_str(), "is given more than once");
            continue;
        }
        seen.push(key);
        let text = || -> Result<String, String> {
            let v = value.trim();
            if v.is_empty() || v.chars().count() > MAX_FILTER_LEN {
                Err(format!("must be 1 to {MAX_FILTER_LEN} characters"))
            } else {
                Ok(v.to_owned())
            }
        };
        let result: Result<(), String> = match key.as_str() {
            "via" => value
                .parse()
                .map(|v| q.via = Some(v))
                .map_err(|e: tater_domain::channel::UnknownChannel| e.to_string()),
            "action" => value
                .parse()
                .map(|v| q.action = Some(v))
                .map_err(|e: tater_domain::audit::UnknownAction| e.to_string()),
            "userId" => text().map(|v| q.user_id = Some(v)),
            "entityType" => text().map(|v| q.entity_type = Some(v)),
            "entityId" => text().map(|v| q.entity_id = Some(v)),
            "from" => Timestamp::parse(value)
                .map(|t| q.from = Some(t))
                .map_err(|e| e.to_string()),
            "to" => Timestamp::parse(value)
                .map(|t| q.to = Some(t))
                .map_err(|e| e.to_string()),
            "limit" => match value.parse::<u32>() {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => {
                    q.limit = n;
                    Ok(())
                }
                _ => Err(format!("must be a whole number from 1 to {MAX_PAGE_SIZE}")),
            },
            "cursor" => match value.parse::<i64>() {
                Ok(n) if n > 0 => {
                    q.before_seq = Some(n);
                    Ok(())
                }
                _ => Err("is not a cursor this server issued".into()),
            },
            _ => Err("unknown parameter".into()),
        };
        if let Err(message) = result {
            errors.add(key.as_str(), message);
        }
    }
    errors.into_result(q)
}

impl Service {
    /// The active organization's audit log, newest first. Auditor and above.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> ServiceResult<Page> {
        let permit = authorize(actor, Action::ReadAudit)?;
        let q = parse_audit_query(params)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let (rows, more) = tx.page_audit(&q, PAGE_BYTES).await?;
        let next_cursor = if more {
            rows.last().map(|e| e.seq.to_string())
        } else {
            None
        };
        Ok(Page {
            items: rows.iter().map(audit_entry_view).collect(),
            next_cursor,
        })
    }
}

/// Entries per page of an export or a verification walk.
const WALK_PAGE: u32 = 1000;

/// An export of the audit log in progress (JSON Lines, see `tater_audit::export`): entries
/// oldest first up to the head as it was when the export began, each followed by the
/// checkpoints taken at it, then a signed end line. Pages are read one transaction at a time,
/// so memory stays flat however long the log.
pub struct AuditExport {
    service: Service,
    permit: Permit,
    query: AuditQuery,
    header: ExportHeader,
    started: bool,
    finished: bool,
    entries: u64,
    last: (i64, String),
    /// Checkpoints past the head when the export began. A healthy log has none; a log whose
    /// tail was cut off in the database still has them, and the verifier reports it.
    beyond_head: Vec<tater_audit::Checkpoint>,
}

impl AuditExport {
    /// Whether list filters narrowed the export (then it carries no checkpoints).
    pub fn filtered(&self) -> bool {
        self.header.filtered
    }

    /// The next lines, or `None` when the end line has been given.
    pub async fn next_lines(&mut self) -> ServiceResult<Option<Vec<Line>>> {
        if self.finished {
            return Ok(None);
        }
        let mut lines = Vec::new();
        if !self.started {
            self.started = true;
            lines.push(Line::Header(self.header.clone()));
        }
        let mut tx = self.service.store.tenant(&self.permit).await?;
        let (page, _) = tx.page_audit(&self.query, PAGE_BYTES).await?;
        let Some(last) = page.last() else {
            self.finished = true;
            lines.extend(self.beyond_head.drain(..).map(Line::Checkpoint));
            let keys = &self.service.audit_keys;
            let end = ExportEnd::new(&self.header, self.entries, self.last.0, &self.last.1, keys);
            lines.push(Line::End(end));
            return Ok(Some(lines));
        };
        let page_end = last.seq;
        let mut checkpoints = if self.header.filtered {
            Vec::new()
        } else {
            tx.audit_checkpoints(self.last.0, page_end).await?
        }
        .into_iter()
        .peekable();
        for e in &page {
            lines.push(Line::Entry(audit_entry_view(e)));
            while let Some(cp) = checkpoints.next_if(|c| c.seq <= e.seq) {
                lines.push(Line::Checkpoint(cp));
            }
            self.entries += 1;
            self.last = (e.seq, e.seal.hash.clone());
        }
        self.query.after_seq = Some(page_end);
        Ok(Some(lines))
    }
}

/// Whether any filter narrows `q` (then an export is not the whole log).
fn is_filtered(q: &AuditQuery) -> bool {
    q.via.is_some()
        || q.user_id.is_some()
        || q.entity_type.is_some()
        || q.entity_id.is_some()
        || q.action.is_some()
        || q.from.is_some()
        || q.to.is_some()
}

impl Service {
    /// Starts an export of the active organization's audit log with the list's filters
    /// (`limit` and `cursor` do not apply). Auditor and above.
    pub async fn export_audit(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> ServiceResult<AuditExport> {
        let permit = authorize(actor, Action::ReadAudit)?;
        if let Some((key, _)) = params.iter().find(|(k, _)| k == "limit" || k == "cursor") {
            let message = "does not apply to an export (it holds every matching entry)";
            return Err(ValidationErrors::single(key.as_str(), message).into());
        }
        let mut query = parse_audit_query(params)?;
        let mut tx = self.store.tenant(&permit).await?;
        let (head, _) = tx.audit_head().await?;
        let filtered = is_filtered(&query);
        let beyond_head = if filtered {
            Vec::new()
        } else {
            tx.audit_checkpoints(head, i64::MAX).await?
        };
        query.upto_seq = Some(head);
        query.ascending = true;
        query.limit = WALK_PAGE;
        Ok(AuditExport {
            service: self.clone(),
            permit,
            header: ExportHeader::new(actor.org(), filtered, self.now()),
            query,
            started: false,
            finished: false,
            entries: 0,
            last: (0, tater_audit::GENESIS_HASH.to_owned()),
            beyond_head,
        })
    }

    /// Verifies the active organization's whole audit log in the database: every entry's
    /// hash and signature, the chain, the checkpoints and the head. Auditor and above.
    pub async fn verify_audit(&self, actor: &Actor) -> ServiceResult<Report> {
        let permit = authorize(actor, Action::ReadAudit)?;
        let mut tx = self.store.tenant(&permit).await?;
        let (head_seq, head_hash) = tx.audit_head().await?;
        let mut v = Verifier::new(&self.audit_keys, false);
        for cp in tx.audit_checkpoints(0, i64::MAX).await? {
            v.checkpoint(cp);
        }
        drop(tx);
        let mut query = AuditQuery {
            ascending: true,
            limit: WALK_PAGE,
            ..AuditQuery::default()
        };
        loop {
            let page = self.audit_page(&permit, &query).await?;
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            for e in &page {
                v.entry(&audit_entry_view(e));
            }
            query.after_seq = Some(last);
        }
        v.head(head_seq, &head_hash, "the head record");
        Ok(v.finish())
    }

    async fn audit_page(
        &self,
        permit: &Permit,
        query: &AuditQuery,
    ) -> ServiceResult<Vec<AuditEntry>> {
        let mut tx: Box<dyn TenantTx> = self.store.tenant(permit).await?;
        Ok(tx.page_audit(query, PAGE_BYTES).await?.0)
    }

    /// Checkpoints every organization's audit head that moved since its last checkpoint: a
    /// system job (SPEC T2), run periodically by the server.
    pub async fn checkpoint_audit_heads(&self) -> ServiceResult<u64> {
        let mut tx = self.store.identity(Mode::Write).await?;
        let n = tx.checkpoint_audit_heads(self.now()).await?;
        tx.commit().await.map_err(ServiceError::from)?;
        Ok(n)
    }
}
