//! The channel a change came through, recorded as `via` on every audit entry (SPEC L1).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A browser session (a local sign-in token or an Entra ID token).
    Web,
    /// The MCP server.
    Mcp,
    /// The in-product AI analyst.
    Copilot,
    /// Claude acting on the organization's behalf.
    Claude,
    /// An endpoint agent.
    Agent,
    /// An API key, and the operator's admin CLI (see ARCHITECTURE.md).
    Api,
    /// Background jobs.
    Cron,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Web,
        Channel::Mcp,
        Channel::Copilot,
        Channel::Claude,
        Channel::Agent,
        Channel::Api,
        Channel::Cron,
    ];

    /// Whether an AI assistant acts through this channel (MCP clients, the in-product
    /// analyst, Claude acting for the organization): decisions marked for a person are
    /// refused here.
    pub fn is_assistant(self) -> bool {
        matches!(self, Channel::Mcp | Channel::Copilot | Channel::Claude)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Mcp => "mcp",
            Channel::Copilot => "copilot",
            Channel::Claude => "claude",
            Channel::Agent => "agent",
            Channel::Api => "api",
            Channel::Cron => "cron",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel (expected web, mcp, copilot, claude, agent, api or cron)")]
pub struct UnknownChannel;

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownChannel)
    }
}
