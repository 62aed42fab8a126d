//! Reading the audit log (SPEC L3).

use tater_audit::export::{ExportEnd, ExportHeader, Line};
use tater_audit::{EntryView, Report, Verifier};
use tater_domain::module::DEFAULT_PAGE_SIZE;

use crate::paging::PAGE_BYTES;
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{Actor, AuditEntry, ValidationErrors};
use tater_store::{AuditQuery, Mode, TenantTx};

use crate::{Page, Service, ServiceError, ServiceResult};

/// An entry as the API returns it (the same object as an export line).
pub fn audit_entry_view(e: &AuditEntry) -> EntryView {
    EntryView::from(e)
}

const MAX_FILTER_LEN: usize = 200;

/// The store's query from the typed filters; free text is trimmed and bounded.
fn audit_query(f: &crate::use_cases::AuditFilters, errors: &mut ValidationErrors) -> AuditQuery {
    let mut text = |field: &str, v: &Option<String>| {
        let v = v.as_deref()?.trim();
        if v.is_empty() || v.chars().count() > MAX_FILTER_LEN {
            errors.add(field, format!("must be 1 to {MAX_FILTER_LEN} characters"));
            None
        } else {
            Some(v.to_owned())
        }
    };
    let user_id = text("userId", &f.user_id);
    let entity_type = text("entityType", &f.entity_type);
    let entity_id = text("entityId", &f.entity_id);
    let from = crate::paging::time_bound("from", f.from.as_deref(), errors);
    let to = crate::paging::time_bound("to", f.to.as_deref(), errors);
    AuditQuery {
        via: f.via,
        action: f.action,
        user_id,
        entity_type,
        entity_id,
        from,
        to,
        limit: DEFAULT_PAGE_SIZE,
        ..Default::default()
    }
}

impl Service {
    /// The active organization's audit log, newest first. Auditor and above.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        input: &crate::use_cases::AuditQuery,
    ) -> ServiceResult<Page<EntryView>> {
        let permit = authorize(actor, Action::ReadAudit)?;
        let mut errors = ValidationErrors::new();
        let mut q = audit_query(&input.filters, &mut errors);
        let paging = crate::use_cases::Paging {
            limit: input.limit,
            cursor: None,
        };
        q.limit = paging.page_size(&mut errors);
        q.before_seq = match input.cursor.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => {
                errors.add("cursor", "is not a cursor this server issued");
                None
            }
        };
        errors.into_result(())?;
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
    /// Where the kept history starts, when retention deleted the oldest entries (given
    /// right after the header of an unfiltered export).
    start: Option<tater_audit::HistoryStart>,
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
            lines.extend(self.start.take().map(Line::Start));
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
            lines.push(Line::Entry(tater_audit::entry_json(e)));
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
        filters: &crate::use_cases::AuditFilters,
    ) -> ServiceResult<AuditExport> {
        let permit = authorize(actor, Action::ReadAudit)?;
        let mut errors = ValidationErrors::new();
        let mut query = audit_query(filters, &mut errors);
        errors.into_result(())?;
        let mut tx = self.store.tenant(&permit).await?;
        let (head, _) = tx.audit_head().await?;
        let filtered = is_filtered(&query);
        let (beyond_head, start) = if filtered {
            (Vec::new(), None)
        } else {
            (
                tx.audit_checkpoints(head, i64::MAX).await?,
                tx.audit_start().await?,
            )
        };
        query.upto_seq = Some(head);
        query.ascending = true;
        query.limit = WALK_PAGE;
        // The chain continues from the history start; entries the export reads start after it.
        let last = match &start {
            Some(s) => (s.seq, s.head_hash.clone()),
            None => (0, tater_audit::GENESIS_HASH.to_owned()),
        };
        query.after_seq = start.as_ref().map(|s| s.seq);
        Ok(AuditExport {
            service: self.clone(),
            permit,
            header: ExportHeader::new(actor.org(), filtered, self.now()),
            query,
            started: false,
            finished: false,
            entries: 0,
            last,
            beyond_head,
            start,
        })
    }

    /// Verifies the active organization's whole audit log in the database: every entry's
    /// hash and signature, the chain from its start (entry 1, or where retention left it),
    /// the checkpoints and the head. Auditor and above.
    pub async fn verify_audit(&self, actor: &Actor) -> ServiceResult<Report> {
        let permit = authorize(actor, Action::ReadAudit)?;
        // Retention may cut the log's oldest day while the walk runs: then the walk is
        // repeated from the new start (a cut happens at most once a day).
        let mut report = self.verify_audit_once(&permit).await?;
        for _ in 0..2 {
            let mut tx = self.store.tenant(&permit).await?;
            let start = tx.audit_start().await?.map(|s| s.seq + 1);
            drop(tx);
            if start == report.history_starts_at {
                break;
            }
            report = self.verify_audit_once(&permit).await?;
        }
        Ok(report)
    }

    async fn verify_audit_once(&self, permit: &Permit) -> ServiceResult<Report> {
        let mut tx = self.store.tenant(permit).await?;
        let (head_seq, head_hash) = tx.audit_head().await?;
        let mut v = Verifier::new(&self.audit_keys, false);
        let start = tx.audit_start().await?;
        let after_seq = start.as_ref().map(|s| s.seq);
        if let Some(s) = start {
            v.start(s);
        }
        for cp in tx.audit_checkpoints(0, i64::MAX).await? {
            v.checkpoint(cp);
        }
        drop(tx);
        let mut query = AuditQuery {
            ascending: true,
            limit: WALK_PAGE,
            after_seq,
            ..AuditQuery::default()
        };
        loop {
            let page = self.audit_page(permit, &query).await?;
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            for e in &page {
                v.entry(&tater_audit::entry_json(e));
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
