//! Status flows: which states a module's records move through, who may move them, and what a
//! move records. The status field of a module with a flow is set only by transitions
//! (`POST /api/<module>/{id}/transitions`), never by create or update.

use serde_json::{Map, Value};

use crate::time::Timestamp;
use crate::{RecordId, Role, TransitionId};

/// A comment on a record: kept with the record for as long as the record is.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordComment {
    pub id: crate::CommentId,
    pub record_id: RecordId,
    /// Audit `userId` of whoever wrote it.
    pub author: String,
    pub at: Timestamp,
    /// Markdown.
    pub body: String,
}

/// A transition made: kept with the record for as long as the record is.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordTransition {
    pub id: TransitionId,
    pub record_id: RecordId,
    pub from: String,
    pub to: String,
    /// Audit `userId` of whoever made it.
    pub actor: String,
    pub at: Timestamp,
    pub comment: Option<String>,
    /// A decision, which kept a snapshot of the record.
    pub decision: bool,
    /// For decisions, when read one at a time: the record's data as it stood when decided.
    /// Lists leave it out, so a long history of large records is not read at once.
    pub snapshot: Option<Map<String, Value>>,
}

/// A module's states and the moves between them.
pub struct Flow {
    /// The status field the flow governs (an `Enum` field of the module).
    pub field: &'static str,
    /// The state every record starts in.
    pub initial: &'static str,
    /// The states in which the record's fields may still be edited (`None`: all). Outside
    /// them the record is decided: it changes only by its moves, so what was approved is what
    /// stays approved.
    pub editable: Option<&'static [&'static str]>,
    pub transitions: &'static [Transition],
}

/// One allowed move: from any of `from` to `to`.
pub struct Transition {
    pub from: &'static [&'static str],
    pub to: &'static str,
    /// The least role that may make it (never below Admin: a transition is a write).
    pub role: Role,
    /// Four eyes: the person who created the record may not make this move.
    pub not_requester: bool,
    /// Only when the record meets this condition (a High-risk exception needs a second
    /// approver; a lower one does not).
    pub guard: Option<Guard>,
    /// Only the member the organization's settings designate for the module's decisions (an
    /// exception approver) may make it — not a role, a named person.
    pub designated: bool,
    /// Whoever made the move into the current state may not make this one (a second
    /// approver is someone other than the first).
    pub not_last_mover: bool,
    /// A person's decision: refused through an AI assistant's channel (MCP, the in-product
    /// analyst, Claude acting for the organization), so an assistant's draft waits for a
    /// person in the web application or the REST API.
    pub person_only: bool,
    /// The move needs a comment (a denial's reason, a request for information).
    pub comment_required: bool,
    /// A decision: the transition keeps a snapshot of the record as it stood when decided.
    pub decision: bool,
    /// What else the move does, in the same transaction.
    pub effect: Option<Effect>,
}

/// A condition on the record for a move to exist: `says` completes "only when the record …".
#[derive(Clone, Copy)]
pub struct Guard {
    pub says: &'static str,
    pub holds: fn(&Map<String, Value>) -> bool,
}

/// Something a move does besides changing the status; the service carries it out in the
/// move's transaction, each change audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Approving an exception: a risk acceptance (an override in posture) of its control, one
    /// per named endpoint or one organization-wide, until its end date, naming the exception.
    AcceptRisk,
    /// Ending an exception: the risk acceptances naming it are revoked today.
    EndAcceptances,
    /// Recording a finding: a corrective-action task for its owner, due when the finding
    /// says, linked to it.
    OpenCorrectiveTask,
    /// Taking a finding into the POA&M: an item describing its weakness, linked to it.
    OpenPoamItem,
    /// Publishing a policy: its text as it stands becomes the next numbered version, the one
    /// members acknowledge from then on.
    PublishPolicyVersion,
    /// Retiring a policy: none of its versions is in force any more.
    RetirePolicy,
    /// Launching a training campaign: an assignment of its course, due on its due date, for
    /// everyone in its audience who has none in the campaign yet.
    AssignTraining,
    /// Work the record calls for (an exercise's findings, a regulation to implement): a task
    /// titled after it, the text of its `about` field as the description, from `source`,
    /// linked to it — none while that field is empty. `module` is the record's own.
    OpenFollowUpTask {
        module: &'static str,
        about: &'static str,
        source: &'static str,
    },
}

impl Transition {
    /// A move by Admins with nothing else asked.
    pub const fn new(from: &'static [&'static str], to: &'static str) -> Self {
        Self {
            from,
            to,
            role: Role::Admin,
            not_requester: false,
            guard: None,
            designated: false,
            not_last_mover: false,
            person_only: false,
            comment_required: false,
            decision: false,
            effect: None,
        }
    }

    pub const fn then(mut self, effect: Effect) -> Self {
        self.effect = Some(effect);
        self
    }

    pub const fn by(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    pub const fn four_eyes(mut self) -> Self {
        self.not_requester = true;
        self
    }

    pub const fn when(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// By the organization's designated approver, who did not make the previous move.
    pub const fn by_designated_second(mut self) -> Self {
        self.designated = true;
        self.not_last_mover = true;
        self
    }

    /// By someone other than whoever made the previous move (who sent it for review).
    pub const fn by_second_person(mut self) -> Self {
        self.not_last_mover = true;
        self
    }

    pub const fn by_person(mut self) -> Self {
        self.person_only = true;
        self
    }

    pub const fn with_comment(mut self) -> Self {
        self.comment_required = true;
        self
    }

    pub const fn decision(mut self) -> Self {
        self.decision = true;
        self
    }
}

/// Who asks for a move: their role, whether they created the record, and whether they come
/// through an AI assistant's channel.
#[derive(Debug, Clone, Copy)]
pub struct Mover {
    pub role: Role,
    pub is_requester: bool,
    pub is_assistant: bool,
    /// The organization designates this person for the module's decisions.
    pub is_designated: bool,
    /// This person made the move into the record's current state.
    pub made_last_move: bool,
}

impl Mover {
    /// A person with `role` who neither created the record nor moved it last, through a
    /// person's channel, designated for nothing.
    pub fn with_role(role: Role) -> Self {
        Self {
            role,
            is_requester: false,
            is_assistant: false,
            is_designated: false,
            made_last_move: false,
        }
    }
}

/// Why a move is refused. Each reads as a sentence after "This transition is refused: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("'{to}' is not a state of this record (states: {states})")]
    UnknownState { to: String, states: String },
    #[error("a record in '{from}' cannot move to '{to}' (from '{from}': {allowed})")]
    NotAllowed {
        from: String,
        to: String,
        allowed: String,
    },
    #[error("moving to '{to}' needs the {role} role")]
    Role { to: String, role: Role },
    #[error("a record in '{from}' moves to '{to}' only when {says}")]
    Condition {
        from: String,
        to: String,
        says: &'static str,
    },
    #[error(
        "moving to '{to}' is for the member the organization designates in its settings; you are not designated"
    )]
    NotDesignated { to: String },
    #[error("moving to '{to}' needs a second approver: whoever made the previous move may not")]
    SameApprover { to: String },
    #[error("moving to '{to}' needs a second person: the requester may not make it")]
    FourEyes { to: String },
    #[error(
        "moving to '{to}' is a person's decision: make it in the web application or with the REST API, not through an AI assistant"
    )]
    PersonRequired { to: String },
    #[error("moving to '{to}' needs a comment")]
    CommentRequired { to: String },
}

impl Flow {
    /// Every state a transition reaches or leaves, in declaration order, without repeats.
    pub fn states(&self) -> Vec<&'static str> {
        let mut out = vec![self.initial];
        for t in self.transitions {
            for s in t.from.iter().chain(std::iter::once(&t.to)) {
                if !out.contains(s) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// Whether a record in `state` may be edited.
    pub fn is_editable(&self, state: &str) -> bool {
        self.editable.is_none_or(|states| states.contains(&state))
    }

    /// The moves out of `from` (whoever may make them).
    pub fn from(&self, from: &str) -> impl Iterator<Item = &'static Transition> + use<'_> {
        let from = from.to_owned();
        self.transitions
            .iter()
            .filter(move |t| t.from.contains(&from.as_str()))
    }

    /// The move from `from` to `to`, if `mover` may make it with this comment, for a record
    /// holding `data` (which a move's condition reads).
    pub fn check(
        &self,
        from: &str,
        to: &str,
        mover: Mover,
        comment: Option<&str>,
        data: &Map<String, Value>,
    ) -> Result<&'static Transition, Refusal> {
        if !self.states().contains(&to) {
            return Err(Refusal::UnknownState {
                to: to.to_owned(),
                states: self.states().join(", "),
            });
        }
        let Some(t) = self.from(from).find(|t| t.to == to) else {
            let allowed: Vec<&str> = self.from(from).map(|t| t.to).collect();
            return Err(Refusal::NotAllowed {
                from: from.to_owned(),
                to: to.to_owned(),
                allowed: if allowed.is_empty() {
                    "none, it is final".into()
                } else {
                    allowed.join(", ")
                },
            });
        };
        if let Some(g) = t.guard.filter(|g| !(g.holds)(data)) {
            return Err(Refusal::Condition {
                from: from.to_owned(),
                to: to.to_owned(),
                says: g.says,
            });
        }
        let role = t.role.max(Role::Admin);
        if mover.role < role {
            return Err(Refusal::Role {
                to: to.to_owned(),
                role,
            });
        }
        if t.not_requester && mover.is_requester {
            return Err(Refusal::FourEyes { to: to.to_owned() });
        }
        if t.designated && !mover.is_designated {
            return Err(Refusal::NotDesignated { to: to.to_owned() });
        }
        if t.not_last_mover && mover.made_last_move {
            return Err(Refusal::SameApprover { to: to.to_owned() });
        }
        if t.person_only && mover.is_assistant {
            return Err(Refusal::PersonRequired { to: to.to_owned() });
        }
        if t.comment_required && comment.is_none_or(|c| c.trim().is_empty()) {
            return Err(Refusal::CommentRequired { to: to.to_owned() });
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exceptions' flow: review and decisions by OrgAdmins, four eyes on decisions.
    fn flow() -> &'static Flow {
        crate::modules::EXCEPTIONS.flow.unwrap()
    }

    fn mover(role: Role, is_requester: bool) -> Mover {
        Mover {
            is_requester,
            ..Mover::with_role(role)
        }
    }

    #[test]
    fn moves_are_checked_in_order_of_state_role_four_eyes_and_comment() {
        let boss = mover(Role::OrgAdmin, false);
        let flow = flow();
        assert_eq!(
            flow.states(),
            [
                "Pending",
                "Under Review",
                "Info Requested",
                "Approved",
                "Second Approval",
                "Denied",
                "Expired"
            ]
        );
        assert!(matches!(
            flow.check("Pending", "Nope", boss, None, &Map::new()),
            Err(Refusal::UnknownState { .. })
        ));
        assert!(matches!(
            flow.check("Pending", "Approved", boss, None, &Map::new()),
            Err(Refusal::NotAllowed { .. })
        ));
        assert!(matches!(
            flow.check("Denied", "Approved", boss, None, &Map::new()),
            Err(Refusal::NotAllowed { allowed, .. }) if allowed == "none, it is final"
        ));
        assert!(matches!(
            flow.check(
                "Pending",
                "Under Review",
                mover(Role::Admin, false),
                None,
                &Map::new()
            ),
            Err(Refusal::Role {
                role: Role::OrgAdmin,
                ..
            })
        ));
        assert!(matches!(
            flow.check(
                "Under Review",
                "Approved",
                mover(Role::OrgAdmin, true),
                None,
                &Map::new()
            ),
            Err(Refusal::FourEyes { .. })
        ));
        let assistant = Mover {
            is_assistant: true,
            ..boss
        };
        assert!(matches!(
            flow.check("Under Review", "Approved", assistant, None, &Map::new()),
            Err(Refusal::PersonRequired { .. })
        ));
        assert!(
            flow.check("Pending", "Under Review", assistant, None, &Map::new())
                .is_ok(),
            "only decisions marked for a person are"
        );
        assert!(matches!(
            flow.check("Under Review", "Denied", boss, Some("  "), &Map::new()),
            Err(Refusal::CommentRequired { .. })
        ));
        assert!(
            flow.check("Under Review", "Denied", boss, Some("no"), &Map::new())
                .is_ok()
        );
        assert!(
            flow.check("Under Review", "Approved", boss, None, &Map::new())
                .unwrap()
                .decision
        );
    }
}
