//! Which MCP tools an organization offers (issue 13 §4; OrgAdmin, audited). Permissive: every
//! tool a role allows, minus `disabledTools`. Strict: for each role only the tools on its
//! allowlist, minus `disabledTools`. A tool a policy leaves out is absent from `tools/list`
//! and refused when called. The identity step (`request_identity_verification`,
//! `verify_identity`) is not a tool on the organization's data and is always offered.

use std::collections::{BTreeSet, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, OrgId, Role, Timestamp, ValidationErrors};

use crate::use_cases::registry;
use crate::{Service, ServiceResult};
use tater_store::SettingsDoc;

/// The longest list a policy may hold (more than there are tools).
const MAX_NAMES: usize = 1024;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum McpMode {
    /// Every tool a role allows, minus the disabled ones.
    #[default]
    Permissive,
    /// Only the tools on each role's allowlist, minus the disabled ones.
    Strict,
}

/// Tool names per role, for strict mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAllowlists {
    #[serde(default)]
    pub viewer: Vec<String>,
    #[serde(default)]
    pub auditor: Vec<String>,
    #[serde(default)]
    pub admin: Vec<String>,
    /// Also what SuperAdmins acting in the organization get.
    #[serde(default)]
    pub orgadmin: Vec<String>,
}

/// An organization's MCP tool policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct McpPolicy {
    #[serde(default)]
    pub mode: McpMode,
    /// Tools nobody in the organization may call through MCP.
    #[serde(default)]
    pub disabled_tools: Vec<String>,
    /// In strict mode, the only tools each role may call.
    #[serde(default)]
    pub role_allowlists: RoleAllowlists,
}

impl McpPolicy {
    /// Whether a member with `role` may call `tool` through MCP under this policy (their role
    /// must allow it too; the MCP server checks both).
    pub fn allows(&self, tool: &str, role: Role) -> bool {
        if self.disabled_tools.iter().any(|t| t == tool) {
            return false;
        }
        match self.mode {
            McpMode::Permissive => true,
            McpMode::Strict => {
                let list = match role {
                    Role::Agent => return false,
                    Role::Viewer => &self.role_allowlists.viewer,
                    Role::Auditor => &self.role_allowlists.auditor,
                    Role::Admin => &self.role_allowlists.admin,
                    Role::OrgAdmin | Role::SuperAdmin => &self.role_allowlists.orgadmin,
                };
                list.iter().any(|t| t == tool)
            }
        }
    }

    /// Every name a tool's, each list without repeats, in a stable order.
    fn checked(mut self) -> ServiceResult<Self> {
        let tools: BTreeSet<&str> = registry()
            .iter()
            .filter(|c| c.is_tool())
            .map(|c| c.tool.as_str())
            .collect();
        let mut errors = ValidationErrors::default();
        let mut check = |field: &str, names: &mut Vec<String>| {
            if names.len() > MAX_NAMES {
                errors.add(field, format!("at most {MAX_NAMES} tool names"));
                return;
            }
            for (i, name) in names.iter().enumerate() {
                if !tools.contains(name.as_str()) {
                    errors.add(format!("{field}[{i}]"), "is not a tool name");
                }
            }
            let unique: BTreeSet<String> = names.drain(..).collect();
            names.extend(unique);
        };
        check("disabledTools", &mut self.disabled_tools);
        let lists = &mut self.role_allowlists;
        check("roleAllowlists.viewer", &mut lists.viewer);
        check("roleAllowlists.auditor", &mut lists.auditor);
        check("roleAllowlists.admin", &mut lists.admin);
        check("roleAllowlists.orgadmin", &mut lists.orgadmin);
        Ok(errors.into_result(self)?)
    }
}

/// How long a replica keeps an organization's policy before reading it again.
pub const POLICY_TTL_MS: i64 = 2_000;
/// Organizations whose policy is kept at once (the cache starts over past it).
const POLICY_CACHE_MAX: usize = 10_000;

/// The policies read recently, per organization.
#[derive(Default)]
pub(crate) struct PolicyCache(std::sync::Mutex<HashMap<OrgId, (McpPolicy, Timestamp)>>);

impl PolicyCache {
    fn get(&self, org: OrgId, now: Timestamp) -> Option<McpPolicy> {
        let cache = self.0.lock().ok()?;
        let (policy, at) = cache.get(&org)?;
        (now.millis() - at.millis() < POLICY_TTL_MS).then(|| policy.clone())
    }

    fn put(&self, org: OrgId, policy: McpPolicy, now: Timestamp) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= POLICY_CACHE_MAX {
                cache.clear();
            }
            cache.insert(org, (policy, now));
        }
    }

    fn forget(&self, org: OrgId) {
        if let Ok(mut cache) = self.0.lock() {
            cache.remove(&org);
        }
    }
}

fn stored(value: Option<Value>) -> McpPolicy {
    // A document this server wrote. One it cannot read (written by a newer version, say) must
    // not drop the restrictions it holds: it offers nothing until an OrgAdmin sets it again.
    value
        .map(|v| {
            serde_json::from_value(v).unwrap_or_else(|e| {
                tracing::error!(error = %e, "unreadable MCP tool policy; offering no tools");
                McpPolicy {
                    mode: McpMode::Strict,
                    ..McpPolicy::default()
                }
            })
        })
        .unwrap_or_default()
}

impl Service {
    /// The organization's MCP tool policy (OrgAdmin).
    pub async fn get_mcp_policy(&self, actor: &Actor) -> ServiceResult<McpPolicy> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(stored(tx.settings_doc(SettingsDoc::McpPolicy).await?))
    }

    /// The policy the MCP server applies to `actor`'s calls (any member; not a use case).
    /// Kept for [`POLICY_TTL_MS`] per organization: a change made here applies at once, one
    /// made on another replica within that time.
    pub async fn mcp_policy_for(&self, actor: &Actor) -> ServiceResult<McpPolicy> {
        let permit = authorize(actor, Action::Read)?;
        let now = self.now();
        if let Some(p) = self.mcp_policies.get(actor.org(), now) {
            return Ok(p);
        }
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let policy = stored(tx.settings_doc(SettingsDoc::McpPolicy).await?);
        self.mcp_policies.put(actor.org(), policy.clone(), now);
        Ok(policy)
    }

    /// Replaces the organization's MCP tool policy (OrgAdmin; audited when it changes).
    pub async fn update_mcp_policy(
        &self,
        actor: &Actor,
        input: McpPolicy,
    ) -> ServiceResult<McpPolicy> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let new = input.checked()?;
        let mut tx = self.store.tenant(&permit).await?;
        let old = stored(tx.settings_doc(SettingsDoc::McpPolicy).await?);
        if old != new {
            let now = self.now();
            let json = |p: &McpPolicy| serde_json::to_value(p).unwrap_or_default();
            let audit = AuditDraft::new(actor, AuditAction::Update, "mcp-policy", actor.org(), now)
                .with_changes(Some(&json(&old)), Some(&json(&new)), &[]);
            tx.put_settings_doc(SettingsDoc::McpPolicy, &json(&new), now, &audit)
                .await?;
            tx.commit().await?;
            self.mcp_policies.forget(actor.org());
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_offers_only_the_allowlist_and_disabled_wins() {
        let p = McpPolicy {
            mode: McpMode::Strict,
            disabled_tools: vec!["get_posture".into()],
            role_allowlists: RoleAllowlists {
                viewer: vec!["list_poam_items".into(), "get_posture".into()],
                ..Default::default()
            },
        };
        assert!(p.allows("list_poam_items", Role::Viewer));
        assert!(!p.allows("get_posture", Role::Viewer));
        assert!(!p.allows("list_poam_items", Role::Admin));
        let open = McpPolicy::default();
        assert!(open.allows("execute_script", Role::Admin));
    }

    #[test]
    fn unknown_names_are_refused_and_repeats_dropped() {
        let p = McpPolicy {
            disabled_tools: vec!["get_posture".into(), "get_posture".into()],
            ..Default::default()
        };
        assert_eq!(p.checked().unwrap().disabled_tools, ["get_posture"]);
        let bad = McpPolicy {
            disabled_tools: vec!["drop_database".into()],
            ..Default::default()
        };
        assert!(bad.checked().is_err());
        // File tools are tools too: they can be disabled.
        let files = McpPolicy {
            disabled_tools: vec!["export_organization_data".into()],
            ..Default::default()
        };
        assert!(files.checked().is_ok());
        // A policy that cannot be read offers nothing.
        let unreadable = stored(Some(serde_json::json!({ "mode": "someday" })));
        assert!(!unreadable.allows("list_poam_items", Role::OrgAdmin));
    }
}
