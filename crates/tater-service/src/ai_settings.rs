//! The AI features' switch and key (issue 16 §1): each organization's own Anthropic API key,
//! sealed with AES-256-GCM under the master key and bound to the organization (the SIEM
//! secrets' `SecretBox`), or — only where the operator allows it — the server's. No answer,
//! log line or audit entry carries a key: only that one is set, its last four characters and
//! when. The switch (`aiEnabled`) lives in the settings document (`settings.rs`).

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, OrgId, Timestamp, ValidationErrors};
use tater_store::{AiKey, AiSettings};

use crate::use_cases::AiSettingsInput;
use crate::{Service, ServiceError, ServiceResult};

/// The model organizations use unless they choose one (`--anthropic-model`).
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-sonnet-5-5";
/// Where the Messages API is (`--anthropic-base-url`: a proxy or a gateway instead).
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// Days an idle analyst conversation is kept, unless the operator says otherwise (the trust
/// page's retention table).
pub const DEFAULT_AI_RETENTION_DAYS: i64 = 30;
const ENTITY: &str = "ai-settings";
const AI_OFF: &str = "the AI features are off for this organization; an OrgAdmin turns them on in Settings → Features";

/// How the server reaches Anthropic, as the operator configured it.
#[derive(Clone)]
pub struct AiConfig {
    pub default_model: String,
    pub base_url: String,
    /// The operator's own key (`TATER_ANTHROPIC_API_KEY`), if any.
    pub server_key: Option<String>,
    /// Organizations without a key of their own may use the server's
    /// (`--ai-server-key-for-all`); otherwise they bring their own.
    pub server_key_for_all: bool,
    /// Days an idle analyst conversation is kept (`--ai-retention-days`).
    pub retention_days: i64,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            default_model: DEFAULT_ANTHROPIC_MODEL.into(),
            base_url: DEFAULT_ANTHROPIC_BASE_URL.into(),
            server_key: None,
            server_key_for_all: false,
            retention_days: DEFAULT_AI_RETENTION_DAYS,
        }
    }
}

impl std::fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiConfig")
            .field("default_model", &self.default_model)
            .field("base_url", &self.base_url)
            .field(
                "server_key",
                &self.server_key.as_ref().map(|_| "[redacted]"),
            )
            .field("server_key_for_all", &self.server_key_for_all)
            .field("retention_days", &self.retention_days)
            .finish()
    }
}

/// Whose key the organization's AI calls would use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// Its own.
    Organization,
    /// The server operator's, offered to organizations without one.
    Server,
    /// None: the AI features cannot run until an OrgAdmin sets one.
    None,
}

/// The organization's AI configuration as shown: never the key itself.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AiSettingsView {
    /// The switch (`PUT /api/settings` changes it).
    pub ai_enabled: bool,
    pub key_source: KeySource,
    /// The last four characters of the organization's own key, when it has one.
    pub key_last4: Option<String>,
    /// When the organization's own key was set.
    pub key_set_at: Option<Timestamp>,
    /// The model its AI features use.
    pub model: String,
    /// Whether that is the organization's choice rather than the server's default.
    pub model_chosen: bool,
}

/// What the audit log records of a key: that it is set and its last four characters.
fn audited(ai: &AiSettings) -> serde_json::Value {
    json!({
        "apiKey": ai.key.as_ref().map(|k| format!("set (…{})", k.last4)),
        "model": ai.model,
    })
}

/// The context a key is sealed for: the organization, so a copied ciphertext opens nowhere
/// else.
fn key_context(org: OrgId) -> String {
    format!("ai-key:{org}")
}

fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

impl Service {
    /// The master key's box (the server always has one; the CLI does not seal secrets).
    fn secret_box(&self) -> ServiceResult<&tater_siem::secret_box::SecretBox> {
        self.siem.as_deref().map(|s| &s.secrets).ok_or_else(|| {
            ServiceError::BadRequest(
                "secrets at rest are not configured here (no master key)".into(),
            )
        })
    }

    fn ai_view(&self, enabled: bool, ai: &AiSettings) -> AiSettingsView {
        let key_source = match (&ai.key, &self.ai.server_key) {
            (Some(_), _) => KeySource::Organization,
            (None, Some(_)) if self.ai.server_key_for_all => KeySource::Server,
            _ => KeySource::None,
        };
        AiSettingsView {
            ai_enabled: enabled,
            key_source,
            key_last4: ai.key.as_ref().map(|k| k.last4.clone()),
            key_set_at: ai.key.as_ref().map(|k| k.set_at),
            model: ai
                .model
                .clone()
                .unwrap_or_else(|| self.ai.default_model.clone()),
            model_chosen: ai.model.is_some(),
        }
    }

    /// The organization's AI configuration (OrgAdmin).
    pub async fn get_ai_settings(&self, actor: &Actor) -> ServiceResult<AiSettingsView> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let enabled = tx.settings().await?.ai_enabled;
        let ai = tx.ai_settings().await?;
        tx.commit().await?;
        Ok(self.ai_view(enabled, &ai))
    }

    /// Sets the organization's key (sealed) and model; a key left out stays as it is.
    /// OrgAdmin; audited without the key.
    pub async fn put_ai_settings(
        &self,
        actor: &Actor,
        input: &AiSettingsInput,
    ) -> ServiceResult<AiSettingsView> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let mut errors = ValidationErrors::new();
        let key = input.api_key.as_deref().map(str::trim);
        if let Some(k) = key
            && (k.len() < 20
                || k.len() > 300
                || k.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            errors.add(
                "apiKey",
                "must be an Anthropic API key (20 to 300 characters, no spaces)",
            );
        }
        let model = input.model.as_deref().map(str::trim);
        if let Some(m) = model
            && (m.is_empty()
                || m.len() > 100
                || !m
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._:@".contains(&b)))
        {
            errors.add("model", "must be a model id such as claude-sonnet-5-5");
        }
        errors.into_result(())?;
        let secrets = self.secret_box()?;
        let now = self.now();
        let mut tx = self.store.tenant(&permit).await?;
        let enabled = tx.settings().await?.ai_enabled;
        let old = tx.ai_settings().await?;
        let new = AiSettings {
            key: match key {
                Some(k) => Some(AiKey {
                    sealed: secrets.seal(&key_context(actor.org()), k),
                    last4: last4(k),
                    set_at: now,
                }),
                None => old.key.clone(),
            },
            model: model.map(str::to_owned),
        };
        let audit = AuditDraft::new(actor, AuditAction::Update, ENTITY, actor.org(), now)
            .with_changes(Some(&audited(&old)), Some(&audited(&new)), &[]);
        tx.put_ai_settings(&new, now, &audit).await?;
        tx.commit().await?;
        Ok(self.ai_view(enabled, &new))
    }

    /// Forgets the organization's key and model choice. OrgAdmin; audited.
    pub async fn delete_ai_settings(&self, actor: &Actor) -> ServiceResult<AiSettingsView> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let now = self.now();
        let mut tx = self.store.tenant(&permit).await?;
        let enabled = tx.settings().await?.ai_enabled;
        let old = tx.ai_settings().await?;
        let new = AiSettings::default();
        if old != new {
            let audit = AuditDraft::new(actor, AuditAction::Delete, ENTITY, actor.org(), now)
                .with_changes(Some(&audited(&old)), Some(&audited(&new)), &[]);
            tx.put_ai_settings(&new, now, &audit).await?;
            tx.commit().await?;
        }
        Ok(self.ai_view(enabled, &new))
    }

    /// `FEATURE_DISABLED` unless the organization turned the AI features on.
    pub(crate) async fn ai_enabled(&self, actor: &Actor) -> ServiceResult<()> {
        let permit = authorize(actor, Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let on = tx.settings().await?.ai_enabled;
        tx.commit().await?;
        if on {
            Ok(())
        } else {
            Err(ServiceError::FeatureDisabled(AI_OFF))
        }
    }

    /// The key and model the organization's AI calls use: `FEATURE_DISABLED` while the switch
    /// is off, and refused when no key is available. The key is opened here, for the call
    /// alone.
    pub async fn ai_credentials(&self, actor: &Actor) -> ServiceResult<(String, String)> {
        let permit = authorize(actor, Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        if !tx.settings().await?.ai_enabled {
            return Err(ServiceError::FeatureDisabled(AI_OFF));
        }
        let ai = tx.ai_settings().await?;
        tx.commit().await?;
        let model = ai.model.unwrap_or_else(|| self.ai.default_model.clone());
        let key = match (ai.key, &self.ai.server_key) {
            (Some(k), _) => self
                .secret_box()?
                .open(&key_context(actor.org()), &k.sealed)
                .map_err(|e| ServiceError::Internal(anyhow::anyhow!(e)))?,
            (None, Some(server)) if self.ai.server_key_for_all => server.clone(),
            _ => {
                return Err(ServiceError::FeatureDisabled(
                    "no Anthropic API key is set for this organization; an OrgAdmin sets one in Settings",
                ));
            }
        };
        Ok((key, model))
    }
}
