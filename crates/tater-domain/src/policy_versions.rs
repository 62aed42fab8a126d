//! What publishing a policy keeps: each publication's text as a numbered version, and the
//! members' acknowledgements of a version.

use time::Date;

use crate::{RecordId, Timestamp, TransitionId, UserId};

/// A policy's text as it was approved and published. Never changed once kept but for the
/// moment its policy is retired; it goes only with its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub policy: RecordId,
    /// 1 for the first publication, one more for each after it.
    pub version: u32,
    pub title: String,
    pub category: Option<String>,
    /// The owner's e-mail address, as the record named it.
    pub owner: Option<String>,
    /// Markdown.
    pub body: String,
    pub effective_date: Date,
    /// Audit `userId` of whoever published (approved) it.
    pub approved_by: String,
    pub approved_at: Timestamp,
    /// The move that published it (its decision snapshot holds the whole record).
    pub transition: TransitionId,
    /// Lowercase hex SHA-256 of `body` (UTF-8), named in the publication's audit entry.
    pub sha256: String,
    /// When its policy was retired: from then on nothing of it is in force.
    pub retired_at: Option<Timestamp>,
}

/// A member's statement that they have read a version of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAcknowledgement {
    pub policy: RecordId,
    pub version: u32,
    pub user: UserId,
    /// Their e-mail address when they acknowledged.
    pub email: String,
    pub at: Timestamp,
}
