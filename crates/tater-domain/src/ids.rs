//! Typed identifiers. A `UserId` can never be passed where an `OrgId` is expected, and every id
//! is validated when it is parsed from a path, a header or a database row.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The error for a string that is not a canonical UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id, so ids sort roughly by creation time.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.as_hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            /// Only the canonical hyphenated form is accepted, so one id has one spelling.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 36 {
                    return Err(InvalidId);
                }
                Uuid::try_parse(s).map(|u| Self(u)).map_err(|_| InvalidId)
            }
        }

        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "format": "uuid" })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// An organization, which is a tenant.
    OrgId
);
typed_id!(
    /// A person (or service identity) who can sign in; memberships give it roles in orgs.
    UserId
);
typed_id!(
    /// A record of a declared module (a POAM item, a risk, a configuration document, ...).
    RecordId
);
typed_id!(
    /// A comment on a record.
    CommentId
);
typed_id!(
    /// A move of a record in its module's status flow.
    TransitionId
);
typed_id!(
    /// A link between a record and another record or a control.
    LinkId
);
typed_id!(
    /// An API key (the id, never the secret).
    ApiKeyId
);
typed_id!(
    /// A frozen copy of an audit's scope (control results, overlays, evidence) at a moment.
    SnapshotId
);
typed_id!(
    /// An auditor's read-only access to one audit (the id, never the secret).
    AuditorTokenId
);
typed_id!(
    /// A file attached to an evidence record.
    FileId
);
typed_id!(
    /// A code emailed to verify an API key owner's identity (the id, never the code).
    IdentityCodeId
);
typed_id!(
    /// An audit log entry.
    AuditId
);
typed_id!(
    /// An enrolled endpoint (a machine running the agent).
    EndpointId
);
typed_id!(
    /// An enrollment token (the id, never the secret).
    EnrollmentTokenId
);
typed_id!(
    /// A scan, chosen by the agent so that retries are idempotent.
    ScanId
);
typed_id!(
    /// A SIEM destination (syslog receiver or webhook).
    DestinationId
);
typed_id!(
    /// An invitation to join an organization.
    InvitationId
);
typed_id!(
    /// One recorded view of a web application page.
    PageViewId
);
typed_id!(
    /// A member's conversation with the AI analyst.
    ConversationId
);
typed_id!(
    /// A write the AI analyst proposed, waiting for its member's confirmation.
    AiActionId
);
typed_id!(
    /// An Evidence Agent job: evidence gathered for some controls.
    EvidenceJobId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_canonical_uuids() {
        let id = OrgId::generate();
        assert_eq!(id.to_string().parse::<OrgId>(), Ok(id));
        assert!("not-an-id".parse::<OrgId>().is_err());
        // Uuid::parse_str accepts the simple and braced forms; ids have exactly one spelling.
        let simple = id.as_uuid().simple().to_string();
        assert!(simple.parse::<OrgId>().is_err());
        assert!(format!("{{{id}}}").parse::<OrgId>().is_err());
    }
}
