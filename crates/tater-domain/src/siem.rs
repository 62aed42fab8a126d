//! SIEM destinations (SPEC L4): where an organization's audit entries are forwarded, and how
//! delivery to each is going.

use serde_json::Value;

use crate::{DestinationId, OrgId, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    Syslog,
    Webhook,
}

impl DestinationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Syslog => "syslog",
            DestinationKind::Webhook => "webhook",
        }
    }
}

impl std::str::FromStr for DestinationKind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "syslog" => Ok(DestinationKind::Syslog),
            "webhook" => Ok(DestinationKind::Webhook),
            _ => Err(()),
        }
    }
}

/// A configured destination. `config` holds the kind's settings (never the secret);
/// `secret_enc` the webhook secret encrypted at rest (SPEC T4).
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub id: DestinationId,
    pub org: OrgId,
    pub name: String,
    pub kind: DestinationKind,
    pub config: Value,
    pub secret_enc: Option<String>,
    pub enabled: bool,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How delivery to a destination is going.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryState {
    /// Entries waiting, and the time of the oldest (the lag).
    pub pending: i64,
    pub oldest_pending_at: Option<Timestamp>,
    pub dead_letters: i64,
    pub delivered: i64,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// Since when deliveries have failed without a success in between.
    pub failing_since: Option<Timestamp>,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
}
