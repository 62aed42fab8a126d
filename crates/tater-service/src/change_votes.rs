//! Change advisory board votes: a submitted change request is decided by the votes of its
//! board's chair and voting members (observers watch; the requester does not vote on their
//! own change). When the approving votes reach the board's threshold the change moves to
//! Approved, and when enough reject that the threshold can no longer be reached it moves to
//! Rejected — each a decision of the status flow, with the tally as its comment. An emergency
//! change is escalated: its chair's approval decides it alone. Approving names the other
//! approved changes that touch the same endpoint or control in an overlapping window.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tater_domain::module::{ModuleDef, Record};
use tater_domain::modules::{CAB_BOARDS, CHANGE_REQUESTS};
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, Principal, RecordId, TransitionId, ValidationErrors,
};
use tater_store::{RecordVote, TenantTx};

use crate::{Service, ServiceError, ServiceResult, TransitionInput};

/// The state in which a change is put to the vote.
const SUBMITTED: &str = "Submitted";
/// The longest comment on a vote, in characters.
const MAX_VOTE_COMMENT: usize = 4000;
/// How many approved changes are compared for conflicts (the newest first).
const CONFLICT_SCAN: u32 = 500;

/// A vote: `{"vote": "approve", "comment": "…"}`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoteInput {
    pub vote: VoteChoice,
    /// Why (Markdown).
    #[schemars(length(max = 4000))]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VoteChoice {
    Approve,
    Reject,
    Abstain,
}

impl VoteChoice {
    fn as_str(self) -> &'static str {
        match self {
            VoteChoice::Approve => "approve",
            VoteChoice::Reject => "reject",
            VoteChoice::Abstain => "abstain",
        }
    }
}

/// One board member's vote as clients see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoteView {
    /// The voter's e-mail address.
    pub voter: String,
    /// Who cast it (the audit log's `userId`).
    pub by: String,
    pub vote: String,
    pub comment: Option<String>,
    pub at: tater_domain::Timestamp,
}

/// The votes of a change's current round and where they stand.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeVotes {
    /// The change's status now (after a deciding vote, the decision).
    pub status: String,
    pub votes: Vec<VoteView>,
    pub approve: usize,
    pub reject: usize,
    pub abstain: usize,
    /// The board's chair and voting members.
    pub voters: usize,
    /// Approving votes that decide (the board's threshold, at most `voters`).
    pub needed: usize,
    /// Approved changes in an overlapping window on a shared endpoint or control (ids).
    pub conflicts: Vec<String>,
}

/// What a board says of one member.
fn board_role<'a>(board: &'a Record, email: &str) -> Option<&'a str> {
    let members = board.data.get("members").and_then(Value::as_array)?;
    members.iter().find_map(|m| {
        let who = m.get("email").and_then(Value::as_str)?;
        who.eq_ignore_ascii_case(email)
            .then(|| m.get("role").and_then(Value::as_str).unwrap_or("Voting"))
    })
}

fn text<'a>(data: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    data.get(name).and_then(Value::as_str)
}

fn record_id(id: &str) -> ServiceResult<RecordId> {
    id.parse().map_err(|_| ServiceError::NotFound)
}

fn check_comment(comment: Option<&str>) -> ServiceResult<Option<String>> {
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    let bad = comment.is_some_and(|c| {
        c.chars().count() > MAX_VOTE_COMMENT
            || c.chars()
                .any(|ch| ch.is_control() && !"\n\r\t".contains(ch))
    });
    if bad {
        let say =
            format!("must be at most {MAX_VOTE_COMMENT} characters, without control characters");
        return Err(ValidationErrors::single("comment", say).into());
    }
    Ok(comment.map(str::to_owned))
}

/// The move that put the change to its current (or last) vote.
async fn current_round(tx: &mut dyn TenantTx, id: RecordId) -> ServiceResult<Option<TransitionId>> {
    let moves = tx.list_transitions(CHANGE_REQUESTS.name, id, 100).await?;
    Ok(moves.into_iter().find(|m| m.to == SUBMITTED).map(|m| m.id))
}

/// Two windows overlap (dates as `YYYY-MM-DD`; a missing end is the start).
fn overlaps(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    let window = |d: &Map<String, Value>| {
        let start = text(d, "windowStart")?;
        Some((
            start.to_owned(),
            text(d, "windowEnd").unwrap_or(start).to_owned(),
        ))
    };
    match (window(a), window(b)) {
        (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
        _ => false,
    }
}

/// Whether two changes name a common endpoint or control.
fn share_scope(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    ["endpoints", "controls"].iter().any(|field| {
        let list = |d: &Map<String, Value>| -> Vec<String> {
            d.get(*field)
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let theirs = list(b);
        list(a).iter().any(|x| theirs.contains(x))
    })
}

impl Service {
    /// Casts (or changes) the caller's vote on a submitted change; decides the change when
    /// the votes do.
    pub async fn vote_on_change(
        &self,
        actor: &Actor,
        id: &str,
        input: &VoteInput,
    ) -> ServiceResult<ChangeVotes> {
        let permit = authorize(actor, Action::WriteRecord)?;
        if actor.channel().is_assistant() {
            return Err(ServiceError::ForbiddenCode(
                "PERSON_REQUIRED",
                "a vote is a person's decision: cast it in the web application or the REST API"
                    .into(),
            ));
        }
        let Principal::User { email, .. } = actor.principal() else {
            return Err(not_a_voter());
        };
        let id = record_id(id)?;
        let comment = check_comment(input.comment.as_deref())?;
        let mut tx = self.store.tenant(&permit).await?;
        let change = get(&mut *tx, &CHANGE_REQUESTS, id).await?;
        let status = text(&change.data, "status").unwrap_or_default();
        if status != SUBMITTED {
            return Err(ServiceError::ConflictCode(
                "NOT_SUBMITTED",
                format!("votes are taken while a change is Submitted; this one is {status}"),
            ));
        }
        let board = board_of(&mut *tx, &change).await?;
        if !matches!(board_role(&board, email.as_str()), Some("Chair" | "Voting")) {
            return Err(not_a_voter());
        }
        if change.meta.created_by == actor.audit_user_id() {
            return Err(ServiceError::ForbiddenCode(
                "FOUR_EYES_REQUIRED",
                "the change's requester does not vote on it".into(),
            ));
        }
        let round = current_round(&mut *tx, id).await?.ok_or_else(|| {
            ServiceError::ConflictCode("NOT_SUBMITTED", "the change was never submitted".into())
        })?;
        let now = self.clock.now();
        let vote = RecordVote {
            record_id: id,
            round,
            voter: email.as_str().to_owned(),
            cast_by: actor.audit_user_id(),
            vote: input.vote.as_str().to_owned(),
            comment,
            at: now,
        };
        let after = json!({ "changeRequest": id.to_string(), "round": round.to_string(),
                            "voter": vote.voter, "vote": vote.vote, "comment": vote.comment });
        let audit = AuditDraft::new(actor, AuditAction::Create, "change-vote", id, now)
            .with_changes(None, Some(&after), &[]);
        tx.put_vote(CHANGE_REQUESTS.name, &vote, &audit).await?;
        let mut answer = self.tally(&mut *tx, &change, &board, round).await?;
        tx.commit().await?;

        let emergency = text(&change.data, "changeType") == Some("Emergency");
        let chair_approved = answer
            .votes
            .iter()
            .any(|v| v.vote == "approve" && board_role(&board, &v.voter) == Some("Chair"));
        let decision = if answer.approve >= answer.needed || (emergency && chair_approved) {
            Some("Approved")
        } else if answer.reject > answer.voters.saturating_sub(answer.needed) {
            Some("Rejected")
        } else {
            None
        };
        if let Some(to) = decision {
            let mut say = format!(
                "Decided by the board's vote: {} approve, {} reject, {} abstain of {} voters ({} needed{}).",
                answer.approve,
                answer.reject,
                answer.abstain,
                answer.voters,
                answer.needed,
                if emergency {
                    "; emergency: the chair's approval decides"
                } else {
                    ""
                },
            );
            if to == "Approved" && !answer.conflicts.is_empty() {
                say.push_str(&format!(
                    " Conflicts with approved changes: {}.",
                    answer.conflicts.join(", ")
                ));
            }
            let input = TransitionInput {
                to: to.to_owned(),
                comment: Some(say),
            };
            let id = id.to_string();
            let moved = match self
                .transition_record(actor, &CHANGE_REQUESTS, &id, &input)
                .await
            {
                Ok(moved) => moved,
                // Another vote decided it a moment ago: the change stands as that one left it.
                Err(ServiceError::ConflictCode("INVALID_TRANSITION", _)) => {
                    self.get_record(actor, &CHANGE_REQUESTS, &id).await?
                }
                Err(e) => return Err(e),
            };
            answer.status = moved["status"].as_str().unwrap_or(to).to_owned();
        }
        Ok(answer)
    }

    /// The votes of a change's current (or last) round and where they stand.
    pub async fn change_votes(&self, actor: &Actor, id: &str) -> ServiceResult<ChangeVotes> {
        let permit = authorize(actor, Action::ReadRecords(CHANGE_REQUESTS.read_role))?;
        let id = record_id(id)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let change = get(&mut *tx, &CHANGE_REQUESTS, id).await?;
        let board = match board_of(&mut *tx, &change).await {
            Ok(board) => board,
            // Nobody votes on a change without a board: nothing to show, nothing wrong.
            Err(ServiceError::ConflictCode("NO_BOARD", _)) => {
                return Ok(ChangeVotes {
                    status: text(&change.data, "status").unwrap_or_default().to_owned(),
                    votes: Vec::new(),
                    approve: 0,
                    reject: 0,
                    abstain: 0,
                    voters: 0,
                    needed: 0,
                    conflicts: Vec::new(),
                });
            }
            Err(e) => return Err(e),
        };
        match current_round(&mut *tx, id).await? {
            Some(round) => self.tally(&mut *tx, &change, &board, round).await,
            None => Ok(self.tally_of(&change, &board, Vec::new())),
        }
    }

    async fn tally(
        &self,
        tx: &mut dyn TenantTx,
        change: &Record,
        board: &Record,
        round: TransitionId,
    ) -> ServiceResult<ChangeVotes> {
        let votes = tx
            .list_votes(CHANGE_REQUESTS.name, change.meta.id, round)
            .await?;
        let mut answer = self.tally_of(change, board, votes);
        answer.conflicts = conflicts(tx, change, self.today()).await?;
        Ok(answer)
    }

    /// Counts the votes of members who still vote (a member taken off the board, or made an
    /// observer, no longer counts).
    fn tally_of(&self, change: &Record, board: &Record, votes: Vec<RecordVote>) -> ChangeVotes {
        let members = board.data.get("members").and_then(Value::as_array);
        let voters = members
            .into_iter()
            .flatten()
            .filter(|m| {
                matches!(
                    m.get("role").and_then(Value::as_str),
                    Some("Chair" | "Voting") | None
                )
            })
            .count();
        let threshold = board
            .data
            .get("approvalThreshold")
            .and_then(Value::as_u64)
            .unwrap_or(1) as usize;
        let counted: Vec<VoteView> = votes
            .into_iter()
            .filter(|v| matches!(board_role(board, &v.voter), Some("Chair" | "Voting")))
            .map(|v| VoteView {
                voter: v.voter,
                by: v.cast_by,
                vote: v.vote,
                comment: v.comment,
                at: v.at,
            })
            .collect();
        let count = |what: &str| counted.iter().filter(|v| v.vote == what).count();
        ChangeVotes {
            status: text(&change.data, "status").unwrap_or_default().to_owned(),
            approve: count("approve"),
            reject: count("reject"),
            abstain: count("abstain"),
            voters,
            needed: threshold.clamp(1, voters.max(1)),
            votes: counted,
            conflicts: Vec::new(),
        }
    }
}

fn not_a_voter() -> ServiceError {
    ServiceError::ForbiddenCode(
        "NOT_A_VOTER",
        "only the board's chair and voting members vote on its changes".into(),
    )
}

async fn get(tx: &mut dyn TenantTx, def: &ModuleDef, id: RecordId) -> ServiceResult<Record> {
    tx.get_record(def.name, id)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// The board a change is put to.
async fn board_of(tx: &mut dyn TenantTx, change: &Record) -> ServiceResult<Record> {
    let no_board = || {
        ServiceError::ConflictCode(
            "NO_BOARD",
            "the change names no change advisory board (`board`) to vote on it".into(),
        )
    };
    let board: RecordId = text(&change.data, "board")
        .and_then(|b| b.parse().ok())
        .ok_or_else(no_board)?;
    tx.get_record(CAB_BOARDS.name, board)
        .await?
        .ok_or_else(no_board)
}

/// The approved changes (other than this one) whose window overlaps its window and that name
/// one of its endpoints or controls.
async fn conflicts(
    tx: &mut dyn TenantTx,
    change: &Record,
    today: time::Date,
) -> ServiceResult<Vec<String>> {
    if text(&change.data, "windowStart").is_none() {
        return Ok(Vec::new());
    }
    let params = [
        ("status".to_owned(), "Approved".to_owned()),
        ("limit".to_owned(), CONFLICT_SCAN.to_string()),
        ("sort".to_owned(), "-updatedAt".to_owned()),
    ];
    let query = tater_domain::module::parse_list_query(&CHANGE_REQUESTS, &params, today, &[])?;
    let approved = tx.list_records(CHANGE_REQUESTS.name, &query).await?;
    Ok(approved
        .iter()
        .filter(|other| other.meta.id != change.meta.id)
        .filter(|other| {
            overlaps(&change.data, &other.data) && share_scope(&change.data, &other.data)
        })
        .map(|other| other.meta.id.to_string())
        .collect())
}
