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
    /// The move needs a comment (a denial's reason, a request for information).
    pub comment_required: bool,
    /// A decision: the transition keeps a snapshot of the record as it stood when decided.
    pub decision: bool,
    /// What else the move does, in the same transaction.
    pub effect: Option<Effect>,
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
}

impl Transition {
    /// A move by Admins with nothing else asked.
    pub const fn new(from: &'static [&'static str], to: &'static str) -> Self {
        Self {
            from,
            to,
            role: Role::Admin,
            not_requester: false,
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

    pub const fn with_comment(mut self) -> Self {
        self.comment_required = true;
        self
    }

    pub const fn decision(mut self) -> Self {
        self.decision = true;
        self
    }
}

/// Who asks for a move: their role, and whether they created the record.
#[derive(Debug, Clone, Copy)]
pub struct Mover {
    pub role: Role,
    pub is_requester: bool,
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
    #[error("moving to '{to}' needs a second person: the requester may not make it")]
    FourEyes { to: String },
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

    /// The moves out of `from` (whoever may make them).
    pub fn from(&self, from: &str) -> impl Iterator<Item = &'static Transition> + use<'_> {
        let from = from.to_owned();
        self.transitions
            .iter()
            .filter(move |t| t.from.contains(&from.as_str()))
    }

    /// The move from `from` to `to`, if `mover` may make it with this comment.
    pub fn check(
        &self,
        from: &str,
        to: &str,
        mover: Mover,
        comment: Option<&str>,
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
        Mover { role, is_requester }
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
                "Denied",
                "Expired"
            ]
        );
        assert!(matches!(
            flow.check("Pending", "Nope", boss, None),
            Err(Refusal::UnknownState { .. })
        ));
        assert!(matches!(
            flow.check("Pending", "Approved", boss, None),
            Err(Refusal::NotAllowed { .. })
        ));
        assert!(matches!(
            flow.check("Denied", "Approved", boss, None),
            Err(Refusal::NotAllowed { allowed, .. }) if allowed == "none, it is final"
        ));
        assert!(matches!(
            flow.check("Pending", "Under Review", mover(Role::Admin, false), None),
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
                None
            ),
            Err(Refusal::FourEyes { .. })
        ));
        assert!(matches!(
            flow.check("Under Review", "Denied", boss, Some("  ")),
            Err(Refusal::CommentRequired { .. })
        ));
        assert!(
            flow.check("Under Review", "Denied", boss, Some("no"))
                .is_ok()
        );
        assert!(
            flow.check("Under Review", "Approved", boss, None)
                .unwrap()
                .decision
        );
    }
}
