//! What the full export holds besides the records themselves: their links, comments,
//! status-flow moves (decisions with the snapshot they kept) and board votes, each read across
//! the whole organization a page at a time by key, so memory stays bounded however much
//! there is.

use serde_json::{Value, json};
use tater_domain::module::{CONTROLS, LinkEnd, RecordComment, RecordLink, RecordTransition};
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{Actor, CommentId, LinkId, TransitionId};
use tater_store::{RecordVote, TenantTx, VoteKey};

use crate::{NextPage, PagedSource, Service, ServiceResult};

/// Rows per page. A move's snapshot can be as large as its record, so moves come in small
/// pages; links are a few ids each.
const LINKS_PAGE: u32 = 500;
const COMMENTS_PAGE: u32 = 100;
const TRANSITIONS_PAGE: u32 = 25;
const VOTES_PAGE: u32 = 500;

/// Which table, and the last id read from it.
pub(crate) enum History {
    Links(Option<LinkId>),
    Comments(Option<CommentId>),
    Transitions(Option<TransitionId>),
    Votes(Option<VoteKey>),
}

impl History {
    /// The archive's file for it.
    pub(crate) fn file_name(&self) -> &'static str {
        match self {
            History::Links(_) => "links.json",
            History::Comments(_) => "comments.json",
            History::Transitions(_) => "transitions.json",
            History::Votes(_) => "votes.json",
        }
    }

    /// The next page as views, and whether it was full (more may follow).
    async fn read(&mut self, tx: &mut dyn TenantTx) -> ServiceResult<(Vec<Value>, bool)> {
        Ok(match self {
            History::Links(after) => {
                let rows = tx.page_all_links(*after, LINKS_PAGE).await?;
                *after = rows.last().map(|l| l.id);
                let full = rows.len() == LINKS_PAGE as usize;
                (rows.iter().map(link).collect(), full)
            }
            History::Comments(after) => {
                let rows = tx.page_all_comments(*after, COMMENTS_PAGE).await?;
                *after = rows.last().map(|(_, c)| c.id);
                let full = rows.len() == COMMENTS_PAGE as usize;
                (rows.iter().map(|(m, c)| comment(m, c)).collect(), full)
            }
            History::Transitions(after) => {
                let rows = tx.page_all_transitions(*after, TRANSITIONS_PAGE).await?;
                *after = rows.last().map(|(_, t)| t.id);
                let full = rows.len() == TRANSITIONS_PAGE as usize;
                (rows.iter().map(|(m, t)| transition(m, t)).collect(), full)
            }
            History::Votes(after) => {
                let rows = tx.page_all_votes(after.as_ref(), VOTES_PAGE).await?;
                *after = rows.last().map(|(module, v)| VoteKey {
                    module: module.clone(),
                    record_id: v.record_id,
                    round: v.round,
                    voter: v.voter.clone(),
                });
                let full = rows.len() == VOTES_PAGE as usize;
                (rows.iter().map(|(m, v)| vote(m, v)).collect(), full)
            }
        })
    }
}

/// One of them, as a source of pages for the archive.
pub(crate) struct HistoryExport {
    service: Service,
    permit: Permit,
    history: History,
    done: bool,
}

impl HistoryExport {
    pub(crate) fn new(service: &Service, actor: &Actor, history: History) -> ServiceResult<Self> {
        Ok(Self {
            service: service.clone(),
            permit: authorize(actor, Action::ExportAll)?.read_only(),
            history,
            done: false,
        })
    }

    async fn next(&mut self) -> ServiceResult<Option<Vec<Value>>> {
        if self.done {
            return Ok(None);
        }
        let mut tx = self.service.store.tenant(&self.permit).await?;
        let (items, full) = self.history.read(&mut *tx).await?;
        self.done = !full;
        Ok(Some(items))
    }
}

impl PagedSource for HistoryExport {
    fn next_page(&mut self) -> NextPage<'_> {
        Box::pin(self.next())
    }
}

/// Both ends as stored: `a` is always a record, `b` a record or a control.
fn link(link: &RecordLink) -> Value {
    let end = |e: &LinkEnd| match e {
        LinkEnd::Record { module, id } => json!({ "module": module, "id": id.to_string() }),
        LinkEnd::Control(control) => json!({ "module": CONTROLS, "id": control }),
    };
    json!({
        "id": link.id.to_string(),
        "a": end(&link.a),
        "b": end(&link.b),
        "createdBy": link.created_by,
        "at": link.at,
    })
}

fn comment(module: &str, c: &RecordComment) -> Value {
    json!({
        "id": c.id.to_string(),
        "module": module,
        "recordId": c.record_id.to_string(),
        "author": c.author,
        "at": c.at,
        "body": c.body,
    })
}

fn transition(module: &str, t: &RecordTransition) -> Value {
    json!({
        "id": t.id.to_string(),
        "module": module,
        "recordId": t.record_id.to_string(),
        "from": t.from,
        "to": t.to,
        "actor": t.actor,
        "at": t.at,
        "comment": t.comment,
        "decision": t.decision,
        "snapshot": t.snapshot,
    })
}

fn vote(module: &str, v: &RecordVote) -> Value {
    json!({
        "module": module,
        "recordId": v.record_id.to_string(),
        "round": v.round.to_string(),
        "voter": v.voter,
        "castBy": v.cast_by,
        "vote": v.vote,
        "comment": v.comment,
        "at": v.at,
    })
}
