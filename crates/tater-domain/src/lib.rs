//! Tater's domain: the types and rules every channel shares, with no I/O.
//!
//! Nothing here talks to a database, the network or the clock; time comes in as a
//! [`time::Timestamp`] argument. The store, service and server crates build on these types.

pub mod actor;
pub mod audit;
pub mod auditing;
pub mod channel;
pub mod email;
pub mod error;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod module;
pub mod modules;
pub mod policy;
pub mod policy_versions;
pub mod role;
pub mod scan;
pub mod scope;
pub mod siem;
pub mod time;

pub use actor::{Actor, ClientInfo, Principal};
pub use audit::{AuditAction, AuditDraft, AuditEntry, AuditSeal};
pub use auditing::{AuditSnapshot, AuditorToken, EvidenceFile};
pub use channel::Channel;
pub use email::Email;
pub use error::{FieldError, ValidationErrors};
pub use identity::{
    ApiKey, Endpoint, EnrollmentToken, IdentityCode, Invitation, InvitationStatus, Membership, Org,
    PageView, Termination, User, WebSession,
};
pub use ids::{
    AiActionId, ApiKeyId, AuditId, AuditorTokenId, CommentId, ConversationId, DestinationId,
    EndpointId, EnrollmentTokenId, EvidenceJobId, FileId, IdentityCodeId, InvitationId, LinkId,
    OrgId, PageViewId, RecordId, ScanId, SnapshotId, TransitionId, UserId,
};
pub use jobs::{Job, JobTarget, TargetStatus};
pub use policy::{Action, Denied, Permit, authorize};
pub use policy_versions::{PolicyAcknowledgement, PolicyVersion};
pub use role::Role;
pub use scan::{CheckStatus, Counts, Scan, ScanResult};
pub use scope::{Mode, SystemPurpose, TenantScope};
pub use siem::{DeliveryState, Destination, DestinationKind};
pub use time::{Clock, Timestamp};
