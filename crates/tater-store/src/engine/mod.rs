//! The SQL both engines share, written once over a [`Driver`] (see `driver.rs`): the
//! transaction types and their trait implementations are generic, and `sqlite.rs` and
//! `postgres.rs` name them with their own driver. Where the engines differ, `sql.rs` and the
//! driver's constants say how.

use crate::driver::Json;
use crate::driver::{Bound as _, Conn, Driver, RowRead};
use crate::tx::*;
use async_trait::async_trait;
use serde_json::Value;
use tater_domain::module::{
    LinkEnd, ListQuery, Record, RecordComment, RecordLink, RecordMeta, RecordTransition,
};
use tater_domain::{
    ApiKey, ApiKeyId, AuditDraft, AuditEntry, CheckStatus, CommentId, Counts, DeliveryState,
    Destination, DestinationId, Email, Endpoint, EndpointId, EnrollmentToken, EnrollmentTokenId,
    LinkId, Membership, Org, OrgId, RecordId, Role, Scan, ScanId, ScanResult, TenantScope,
    Timestamp, TransitionId, User, UserId,
};

use crate::sql::{
    Arg, RowLock, SqlBuilder, byte_length, bytewise, integer_expr, lock_rows_of, push_conditions,
    push_page, text_expr,
};
use crate::{
    AuditQuery, AuditSettings, DeadLetter, DeliveryTx, DueDestination, EndpointQuery,
    EndpointTotals, IdentityTx, LatestResult, Mode, PageFit, Result, ResultCount, ResultFilter,
    ResultGroup, ResultKey, StoreError, TenantTx, data_json, fit_page, json_size,
};

mod ai;
mod audit;
mod auditing;
mod endpoints;
mod identity;
mod jobs;
mod links;
mod members;
mod policies;
mod records;
mod runner;
mod scans;
mod settings;
mod siem;
mod termination;
mod usage;
mod verification;
mod web_sessions;

// Row readers and helpers the capability modules share.
use audit::*;
use auditing::*;
use endpoints::*;
use members::*;
use scans::*;

pub(crate) use audit::seal_legacy_entries;
pub(crate) use identity::EngineIdentityTx;
pub(crate) use runner::EngineRunnerTx;
pub(crate) use siem::EngineDeliveryTx;

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

/// A page's sizing read (rows with their `size_bytes`, in page order): its rows, how many
/// of them fit a page of `limit` rows and `max_bytes` bytes, and whether more follow (see
/// [`fit_page`]).
async fn sizing_read<'q, D: Driver>(
    conn: &mut Conn<D>,
    q: D::Query<'q>,
    limit: u32,
    max_bytes: u64,
) -> Result<(Vec<D::Row>, usize, bool)> {
    let sized = q.fetch_all(conn).await?;
    let sizes = sized
        .iter()
        .map(|r| r.try_get::<i64>("size_bytes"))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let (n, more) = fit_page(&sizes, limit, max_bytes);
    Ok((sized, n, more))
}

/// The `id` column of each row.
fn ids_of(rows: &[impl RowRead]) -> Result<Vec<String>> {
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String>("id"))
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

/// A transaction on one tenant's data.
pub struct EngineTenantTx<D: Driver> {
    pub(crate) tx: D::Tx,
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
        self.unaudited_write()?;
        let org = self.scope.org();
        append_audit::<D>(&mut self.tx, &self.audit, org, audit).await
    }
}

impl<D: Driver> EngineTenantTx<D> {
    /// Refuses a write under a read-only permit. A row change before it may already have
    /// run: the transaction is marked so that it never commits. Audited writes pass here
    /// too; bookkeeping with no entry of its own (a conversation's turns) calls it directly.
    fn unaudited_write(&mut self) -> Result<()> {
        if self.mode != Mode::Write {
            self.refused = true;
            return Err(StoreError::ReadOnly);
        }
        Ok(())
    }

    /// Locks the tenant's audit head now, before the rows this transaction changes next.
    /// Every audited write locks the head and then, through the SIEM outbox's foreign key,
    /// each enabled destination row; a change to a destination row must therefore take the
    /// head first, or it and a writer wait for each other (PostgreSQL; SQLite has one writer).
    async fn lock_audit_head(&mut self) -> Result<()> {
        self.unaudited_write()?;
        let sql = format!(
            "SELECT last_seq FROM audit_heads WHERE tenant_id = $1{}",
            D::LOCK
        );
        D::query(&sql)
            .bind(self.tenant())
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The row lock a `SELECT` takes in write mode (`FOR UPDATE` where rows lock).
    fn lock(&self) -> &'static str {
        if self.mode == Mode::Write {
            D::LOCK
        } else {
            ""
        }
    }

    /// Writes the audit entry of a change that had to touch a row; `NotFound` if it
    /// touched none (another tenant's or a missing row).
    async fn audit_if_touched(&mut self, rows: u64, audit: &AuditDraft) -> Result<()> {
        if rows == 0 {
            return Err(StoreError::NotFound);
        }
        self.audited(audit).await
    }
}

#[async_trait]
impl<D: Driver> TenantTx for EngineTenantTx<D> {
    fn scope(&self) -> TenantScope {
        self.scope
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        if self.refused {
            // Dropping the transaction rolls it back.
            return Err(StoreError::ReadOnly);
        }
        Ok(crate::driver::Commit::commit(self.tx).await?)
    }
}
