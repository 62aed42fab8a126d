//! SIEM destinations (SPEC L4, L6, T4): OrgAdmin configures where the organization's audit
//! entries go. Every change is audited; addresses are vetted by the egress module when saved
//! (and again by the worker at every delivery); webhook secrets are encrypted at rest and never
//! shown again.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use tater_domain::policy::{Action, authorize};
use tater_domain::{
    Actor, AuditAction, AuditDraft, AuditEntry, AuditId, AuditSeal, DeliveryState, Destination,
    DestinationId, Timestamp, ValidationErrors,
};
use tater_siem::Event;
use tater_siem::deliver::{Failure, Sender, Target};
use tater_siem::destination::{
    self, DestinationInput, Spec, SyslogConfig, WebhookConfig, secret_context, stored_spec,
};
use tater_siem::secret_box::SecretBox;
use tater_store::{Mode, TenantTx};

use crate::{Service, ServiceError, ServiceResult};

/// What the service needs to vet, test and encrypt destinations.
#[derive(Clone)]
pub struct SiemSupport {
    pub sender: Sender,
    pub secrets: SecretBox,
    /// A destination failing for longer than this shows as `failing` (before: `retrying`).
    pub failing_after_secs: i64,
}

const ENTITY: &str = "siem-destination";

/// What sending a test event to a destination did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestDelivery {
    pub delivered: bool,
    /// The test event's id (`x-tater-delivery` of a webhook, the syslog message id).
    pub event_id: AuditId,
    /// Why the receiver did not take it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An entry the destination refused for good, kept for replay.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    /// The audit entry's sequence number.
    pub seq: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: Option<Timestamp>,
}

/// How many dead letters were queued again.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Replayed {
    pub replayed: u64,
}
const MAX_DEAD_LETTERS_SHOWN: u32 = 500;

/// A destination's kind and settings as stored (never its secret).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum DestinationSettings {
    Syslog(SyslogConfig),
    Webhook(WebhookConfig),
}

/// How delivery to a destination is going, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryHealth {
    /// Nothing waiting.
    Ok,
    /// Entries waiting, no failure.
    Delivering,
    /// Failing for less than the server's failing threshold.
    Retrying,
    /// Failing for longer than the threshold.
    Failing,
    /// Switched off; entries keep queueing.
    Disabled,
}

/// Delivery status of a destination.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub state: DeliveryHealth,
    /// Entries waiting.
    pub pending: i64,
    /// Seconds since the oldest waiting entry was written.
    pub lag_seconds: Option<i64>,
    pub oldest_pending_at: Option<Timestamp>,
    pub delivered: i64,
    pub dead_letters: i64,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// Since when deliveries have failed without a success in between.
    pub failing_since: Option<Timestamp>,
    pub consecutive_failures: i64,
    pub next_attempt_at: Option<Timestamp>,
}

/// A destination as the API shows it: settings, never the secret, and delivery status.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "SiemDestination")]
pub struct DestinationView {
    pub id: DestinationId,
    #[serde(flatten)]
    pub settings: DestinationSettings,
    pub name: String,
    pub enabled: bool,
    /// Present (true) when a webhook secret is stored; the secret itself is never shown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret_set: bool,
    pub delivery: DeliveryView,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A destination as the API shows it; `None` if its stored settings do not read back.
pub fn destination_view(
    d: &Destination,
    s: &DeliveryState,
    now: Timestamp,
    failing_after_secs: i64,
) -> Option<DestinationView> {
    let settings = match stored_spec(d.kind, &d.config)? {
        Spec::Syslog(c) => DestinationSettings::Syslog(c),
        Spec::Webhook { config, .. } => DestinationSettings::Webhook(config),
    };
    let state = if !d.enabled {
        DeliveryHealth::Disabled
    } else if let Some(since) = s.failing_since {
        if now.millis() - since.millis() >= failing_after_secs * 1000 {
            DeliveryHealth::Failing
        } else {
            DeliveryHealth::Retrying
        }
    } else if s.pending > 0 {
        DeliveryHealth::Delivering
    } else {
        DeliveryHealth::Ok
    };
    let lag = s
        .oldest_pending_at
        .map(|t| (now.millis() - t.millis()).max(0) / 1000);
    Some(DestinationView {
        id: d.id,
        settings,
        name: d.name.clone(),
        enabled: d.enabled,
        secret_set: d.secret_enc.is_some(),
        delivery: DeliveryView {
            state,
            pending: s.pending,
            lag_seconds: lag,
            oldest_pending_at: s.oldest_pending_at,
            delivered: s.delivered,
            dead_letters: s.dead_letters,
            last_success_at: s.last_success_at,
            last_error: s.last_error.clone(),
            last_error_at: s.last_error_at,
            failing_since: s.failing_since,
            consecutive_failures: s.attempts,
            next_attempt_at: s.next_attempt_at,
        },
        version: d.version,
        created_at: d.created_at,
        updated_at: d.updated_at,
    })
}

/// What the audit entry records of a destination; `secret` is redacted by the diff.
fn audit_view(d: &Destination, secret: Option<&str>) -> Value {
    let mut v = json!({ "name": d.name, "type": d.kind.as_str(), "enabled": d.enabled });
    if let (Value::Object(m), Value::Object(c)) = (&mut v, &d.config) {
        m.extend(c.clone());
        if let Some(s) = secret {
            m.insert("secret".into(), json!(s));
        }
    }
    v
}

fn parse_id(id: &str) -> ServiceResult<DestinationId> {
    id.parse().map_err(|_| ServiceError::NotFound)
}

impl Service {
    fn siem(&self) -> ServiceResult<&SiemSupport> {
        self.siem.as_deref().ok_or_else(|| {
            ServiceError::BadRequest("SIEM forwarding is not configured on this server".into())
        })
    }

    /// Vets the address; a refusal is a validation error on the field that holds it.
    async fn vet(&self, spec: &Spec) -> ServiceResult<()> {
        let egress = self.siem()?.sender.egress();
        let (field, result) = match spec {
            Spec::Syslog(c) => ("host", egress.vet_host(&c.host, c.port).await.map(|_| ())),
            Spec::Webhook { config, .. } => ("url", egress.vet_url(&config.url).await.map(|_| ())),
        };
        result.map_err(|e| ValidationErrors::single(field, e.to_string()).into())
    }

    fn destination_view(
        &self,
        d: &Destination,
        s: &DeliveryState,
    ) -> ServiceResult<DestinationView> {
        let failing_after = self.siem()?.failing_after_secs;
        destination_view(d, s, self.now(), failing_after).ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!(
                "destination {} has unreadable settings",
                d.id
            ))
        })
    }

    pub async fn list_destinations(&self, actor: &Actor) -> ServiceResult<Vec<DestinationView>> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let rows = tx.destinations().await?;
        rows.iter()
            .map(|(d, s)| self.destination_view(d, s))
            .collect()
    }

    /// Checks the caller may manage destinations and opens one in a transaction; another
    /// organization's id is as missing as an unknown one.
    async fn open_destination(
        &self,
        actor: &Actor,
        id: &str,
        mode: Mode,
    ) -> ServiceResult<(Box<dyn TenantTx>, Destination, DeliveryState)> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let permit = match mode {
            Mode::Read => permit.read_only(),
            Mode::Write => permit,
        };
        let id = parse_id(id)?;
        let mut tx = self.store.tenant(&permit).await?;
        let (d, s) = tx.destination(id).await?.ok_or(ServiceError::NotFound)?;
        Ok((tx, d, s))
    }

    pub async fn get_destination(&self, actor: &Actor, id: &str) -> ServiceResult<DestinationView> {
        let (_, d, s) = self.open_destination(actor, id, Mode::Read).await?;
        self.destination_view(&d, &s)
    }

    pub async fn create_destination(
        &self,
        actor: &Actor,
        body: &Value,
    ) -> ServiceResult<DestinationView> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let input = destination::parse(body, true)?;
        self.vet(&input.spec).await?;
        let now = self.now();
        let id = DestinationId::generate();
        let secrets = &self.siem()?.secrets;
        let secret = match &input.spec {
            Spec::Webhook { secret, .. } => secret.clone(),
            Spec::Syslog(_) => None,
        };
        let d = Destination {
            id,
            org: actor.org(),
            name: input.name.clone(),
            kind: input.spec.kind(),
            config: input.spec.config_json(),
            secret_enc: secret.as_deref().map(|s| {
                secrets.seal(
                    &secret_context(&actor.org().to_string(), &id.to_string()),
                    s,
                )
            }),
            enabled: input.enabled,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let audit = AuditDraft::new(actor, AuditAction::Create, ENTITY, id, now).with_changes(
            None,
            Some(&audit_view(&d, secret.as_deref())),
            &["secret"],
        );
        let mut tx = self.store.tenant(&permit).await?;
        tx.insert_destination(&d, &audit)
            .await
            .map_err(name_taken)?;
        let (d, s) = tx.destination(id).await?.ok_or(ServiceError::NotFound)?;
        tx.commit().await?;
        self.destination_view(&d, &s)
    }

    pub async fn update_destination(
        &self,
        actor: &Actor,
        id: &str,
        body: &Value,
    ) -> ServiceResult<DestinationView> {
        authorize(actor, Action::ManageSettings)?;
        let input: DestinationInput = destination::parse(body, false)?;
        let (mut tx, old, _) = self.open_destination(actor, id, Mode::Write).await?;
        let id = old.id;
        if old.kind != input.spec.kind() {
            return Err(ValidationErrors::single(
                "type",
                "cannot change; create a new destination",
            )
            .into());
        }
        if input.version.is_some_and(|v| v != old.version) {
            return Err(ServiceError::Conflict(
                "the destination was changed by someone else".into(),
            ));
        }
        self.vet(&input.spec).await?;
        let secrets = &self.siem()?.secrets;
        let context = secret_context(&actor.org().to_string(), &id.to_string());
        let old_secret = old
            .secret_enc
            .as_deref()
            .and_then(|e| secrets.open(&context, e).ok());
        let new_secret = match &input.spec {
            Spec::Webhook {
                secret: Some(s), ..
            } => Some(s.clone()),
            _ => old_secret.clone(),
        };
        let now = self.now();
        let new = Destination {
            name: input.name.clone(),
            config: input.spec.config_json(),
            secret_enc: match (&new_secret, &old_secret) {
                (Some(n), Some(o)) if n == o => old.secret_enc.clone(),
                (Some(n), _) => Some(secrets.seal(&context, n)),
                (None, _) => None,
            },
            enabled: input.enabled,
            version: old.version + 1,
            updated_at: now,
            ..old.clone()
        };
        let before = audit_view(&old, old_secret.as_deref());
        let after = audit_view(&new, new_secret.as_deref());
        if before == after {
            let (d, s) = tx.destination(id).await?.ok_or(ServiceError::NotFound)?;
            return self.destination_view(&d, &s);
        }
        let audit = AuditDraft::new(actor, AuditAction::Update, ENTITY, id, now).with_changes(
            Some(&before),
            Some(&after),
            &["secret"],
        );
        tx.update_destination(&new, old.version, &audit)
            .await
            .map_err(name_taken)?;
        let (d, s) = tx.destination(id).await?.ok_or(ServiceError::NotFound)?;
        tx.commit().await?;
        self.destination_view(&d, &s)
    }

    pub async fn delete_destination(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        let (mut tx, old, _) = self.open_destination(actor, id, Mode::Write).await?;
        let id = old.id;
        let now = self.now();
        let audit = AuditDraft::new(actor, AuditAction::Delete, ENTITY, id, now).with_changes(
            Some(&audit_view(&old, None)),
            None,
            &[],
        );
        tx.delete_destination(id, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends a test event (not an audit entry, not queued) and says how it went.
    pub async fn test_destination(&self, actor: &Actor, id: &str) -> ServiceResult<TestDelivery> {
        let (tx, d, _) = self.open_destination(actor, id, Mode::Read).await?;
        drop(tx);
        let siem = self.siem()?;
        let spec = stored_spec(d.kind, &d.config).ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("unreadable destination settings"))
        })?;
        let secret = match &d.secret_enc {
            Some(enc) => Some(
                siem.secrets
                    .open(&secret_context(&d.org.to_string(), &d.id.to_string()), enc)
                    .map_err(|e| ServiceError::Internal(e.into()))?,
            ),
            None => None,
        };
        let target = Target {
            id: d.id.to_string(),
            spec,
            secret,
        };
        let now = self.now();
        let mut draft = AuditDraft::new(actor, AuditAction::Update, ENTITY, d.id, now);
        draft.id = AuditId::generate();
        draft.changes =
            json!({ "testEvent": { "after": "a test event from Tater; no change was made" } });
        let entry = AuditEntry {
            seq: 0,
            tenant_id: d.org,
            draft,
            seal: AuditSeal::default(),
        };
        let sent = siem.sender.send(&target, &[Event::of(&entry)]).await;
        let error = match sent.failure {
            None => None,
            Some(Failure::Retry { error, .. } | Failure::Dead { error }) => Some(error),
        };
        Ok(TestDelivery {
            delivered: error.is_none(),
            event_id: entry.draft.id,
            error,
        })
    }

    /// Entries the destination refused for good.
    pub async fn dead_letters(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<Vec<DeadLetterView>> {
        let (mut tx, found, _) = self.open_destination(actor, id, Mode::Read).await?;
        let id = found.id;
        let rows = tx.dead_letters(id, MAX_DEAD_LETTERS_SHOWN).await?;
        Ok(rows
            .iter()
            .map(|r| DeadLetterView {
                seq: r.seq,
                attempts: r.attempts,
                last_error: r.last_error.clone(),
                dead_at: r.dead_at,
            })
            .collect())
    }

    /// Queues the dead letters again (after the receiver was fixed). Audited.
    pub async fn replay_dead_letters(&self, actor: &Actor, id: &str) -> ServiceResult<Replayed> {
        let (mut tx, found, _) = self.open_destination(actor, id, Mode::Write).await?;
        let (id, now) = (found.id, self.now());
        let audit = AuditDraft::new(actor, AuditAction::Update, ENTITY, id, now).with_changes(
            None,
            Some(&json!({ "deadLettersReplayed": true })),
            &[],
        );
        let n = tx.replay_dead_letters(id, &audit).await?;
        tx.commit().await?;
        Ok(Replayed { replayed: n })
    }
}

/// A taken name is a validation error on `name`, not a bare conflict.
fn name_taken(e: tater_store::StoreError) -> ServiceError {
    match e {
        tater_store::StoreError::Conflict(what) if what.contains("siem_destinations_name") => {
            ValidationErrors::single("name", "another destination has this name").into()
        }
        other => other.into(),
    }
}
