//! Links between records of any modules, and between a record and a catalog control (a risk
//! ↔ its controls ↔ its POA&M items ↔ evidence ↔ tasks). Listed from both ends, made and
//! removed from either record, each audited as a `link` created or deleted; a link goes
//! with either record. Ends the caller may not read are left out of every list.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tater_domain::module::{CONTROLS, LinkEnd, ModuleDef, RecordLink};
use tater_domain::modules;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, LinkId, RecordId, ValidationErrors};
use tater_store::{StoreError, TenantTx};

use crate::records::parse_id;
use crate::{Service, ServiceError, ServiceResult};

/// The most links one record (or one control) may have: every list shows them all.
pub const MAX_LINKS: u32 = 200;

/// The far end of a link to make: a record of a module, or a control (`module: "controls"`,
/// `id` in either spelling, `ac-2.1` or `AC-2(1)`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkTarget {
    /// A module's name (as in `/api/<module>`), or `controls`.
    #[schemars(length(min = 1, max = 64))]
    pub module: String,
    /// The record's id, or the control's.
    #[schemars(length(min = 1, max = 64))]
    pub id: String,
}

/// A link to make from a record: `{"to": {"module": "poam", "id": "…"}}`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub to: LinkTarget,
}

/// One end of a link, as clients see it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LinkEndView {
    /// A module's name, or `controls`.
    pub module: String,
    /// The record's id, or the control's (`ac-2.1`).
    pub id: String,
    /// What people call it: the record's first field (its title), or `AC-2 Account Management`.
    pub label: String,
}

/// A link seen from one of its ends: the other end.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    pub id: String,
    pub to: LinkEndView,
    /// Who made it (the audit log's `userId`).
    pub by: String,
    pub at: tater_domain::Timestamp,
}

/// A record's (or a control's) links, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LinkList {
    pub items: Vec<LinkView>,
}

/// The audit entry of a link made from `from` to `to`.
pub(crate) fn link_created(
    actor: &Actor,
    link: &RecordLink,
    (from, to): (&LinkEnd, &LinkEnd),
    now: tater_domain::Timestamp,
) -> AuditDraft {
    let after = json!({
        "from": { "module": from.module(), "id": from.id() },
        "to": { "module": to.module(), "id": to.id() },
    });
    AuditDraft::new(actor, AuditAction::Create, "link", link.id, now).with_changes(
        None,
        Some(&after),
        &[],
    )
}

/// A record's name: its first field, when that is text or a number.
pub fn record_label(def: &ModuleDef, data: &serde_json::Map<String, Value>) -> String {
    let first = def.fields.first().and_then(|f| data.get(f.name));
    match first {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => def.singular.to_owned(),
    }
}

/// Whether the caller may read a module's records (a link's end in a module it may not read
/// is left out).
fn may_read(actor: &Actor, module: &str) -> Option<&'static ModuleDef> {
    let def = modules::by_name(module)?;
    authorize(actor, Action::ReadRecords(def.read_role))
        .ok()
        .map(|_| def)
}

impl Service {
    /// Links a record to another record or a control (Admin and above, as any write).
    pub async fn add_link(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
        input: &LinkInput,
    ) -> ServiceResult<LinkView> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let record_id: RecordId = parse_id(id)?;
        let from = LinkEnd::record(def.name, record_id);
        let mut tx = self.store.tenant(&permit).await?;
        if tx.get_record(def.name, record_id).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let (to, label) = self.target(&mut *tx, actor, &input.to).await?;
        if to == from {
            return Err(ValidationErrors::single("to", "must not be the record itself").into());
        }
        for end in [&from, &to] {
            let held = tx.list_links(end, MAX_LINKS).await?.len();
            if held >= MAX_LINKS as usize {
                return Err(ServiceError::ConflictCode(
                    "TOO_MANY_LINKS",
                    format!(
                        "{} {} has {MAX_LINKS} links, the most it may have; remove one first",
                        end.module(),
                        end.id()
                    ),
                ));
            }
        }
        let now = self.clock.now();
        let link = RecordLink::new(from.clone(), to.clone(), actor.audit_user_id(), now);
        let audit = link_created(actor, &link, (&from, &to), now);
        match tx.insert_link(&link, &audit).await {
            Err(StoreError::Conflict(_)) => {
                return Err(ServiceError::ConflictCode(
                    "ALREADY_LINKED",
                    format!(
                        "this {} is linked to {} {} already",
                        def.singular,
                        to.module(),
                        to.id()
                    ),
                ));
            }
            other => other?,
        }
        tx.commit().await?;
        Ok(LinkView {
            id: link.id.to_string(),
            to: LinkEndView {
                module: to.module().to_owned(),
                id: to.id(),
                label,
            },
            by: link.created_by,
            at: link.at,
        })
    }

    /// The far end a client named, checked: a control of the catalog, or a record of this
    /// organization in a module the caller may read. With its label.
    async fn target(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        target: &LinkTarget,
    ) -> ServiceResult<(LinkEnd, String)> {
        if target.module == CONTROLS {
            let catalog = self.catalog()?;
            let control = catalog.control(target.id.trim()).ok_or_else(|| {
                ValidationErrors::single("to.id", "is not a control of the catalog")
            })?;
            return Ok((
                LinkEnd::Control(control.id.clone()),
                format!("{} {}", control.label, control.title),
            ));
        }
        let Some(other) = modules::by_name(&target.module) else {
            let names: Vec<&str> = modules::ALL
                .iter()
                .map(|m| m.name)
                .chain([CONTROLS])
                .collect();
            return Err(ValidationErrors::single(
                "to.module",
                format!("must be one of {}", names.join(", ")),
            )
            .into());
        };
        authorize(actor, Action::ReadRecords(other.read_role))?;
        let unknown = || {
            ValidationErrors::single(
                "to.id",
                format!("is not one of this organization's {} records", other.name),
            )
        };
        let id: RecordId = target
            .id
            .trim()
            .parse::<RecordId>()
            .map_err(|_| unknown())?;
        let record = tx.get_record(other.name, id).await?.ok_or_else(unknown)?;
        Ok((
            LinkEnd::record(other.name, id),
            record_label(other, &record.data),
        ))
    }

    /// Removes one of the record's links (Admin and above).
    pub async fn remove_link(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
        link_id: &str,
    ) -> ServiceResult<()> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let from = LinkEnd::record(def.name, parse_id(id)?);
        let link_id: LinkId = parse_id(link_id)?;
        let mut tx = self.store.tenant(&permit).await?;
        let link = tx.get_link(link_id).await?.ok_or(ServiceError::NotFound)?;
        let Some(to) = link.seen_from(&from) else {
            return Err(ServiceError::NotFound);
        };
        let before = json!({
            "from": { "module": from.module(), "id": from.id() },
            "to": { "module": to.module(), "id": to.id() },
        });
        let audit = AuditDraft::new(
            actor,
            AuditAction::Delete,
            "link",
            link.id,
            self.clock.now(),
        )
        .with_changes(Some(&before), None, &[]);
        tx.delete_link(link.id, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A record's links, newest first.
    pub async fn list_links(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
    ) -> ServiceResult<LinkList> {
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        let record_id: RecordId = parse_id(id)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        if tx.get_record(def.name, record_id).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        self.links_of(&mut *tx, actor, &LinkEnd::record(def.name, record_id))
            .await
    }

    /// The records linked to a control, newest first.
    pub async fn list_control_links(
        &self,
        actor: &Actor,
        control: &str,
    ) -> ServiceResult<LinkList> {
        let permit = authorize(actor, Action::Read)?;
        let catalog = self.catalog()?;
        let control = catalog.control(control).ok_or(ServiceError::NotFound)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        self.links_of(&mut *tx, actor, &LinkEnd::Control(control.id.clone()))
            .await
    }

    /// The links of one end, each seen from it, with labels; ends the caller may not read
    /// are left out.
    async fn links_of(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        end: &LinkEnd,
    ) -> ServiceResult<LinkList> {
        let links = tx.list_links(end, MAX_LINKS).await?;
        let mut items = Vec::with_capacity(links.len());
        for link in &links {
            let Some(to) = link.seen_from(end) else {
                continue;
            };
            let Some(label) = self.label(tx, actor, to).await? else {
                continue;
            };
            items.push(LinkView {
                id: link.id.to_string(),
                to: LinkEndView {
                    module: to.module().to_owned(),
                    id: to.id(),
                    label,
                },
                by: link.created_by.clone(),
                at: link.at,
            });
        }
        Ok(LinkList { items })
    }

    /// What an end is called, or `None` when the caller may not read it.
    async fn label(
        &self,
        tx: &mut dyn TenantTx,
        actor: &Actor,
        end: &LinkEnd,
    ) -> ServiceResult<Option<String>> {
        Ok(match end {
            LinkEnd::Control(id) => Some(match self.catalog()?.control(id) {
                Some(c) => format!("{} {}", c.label, c.title),
                None => id.clone(),
            }),
            LinkEnd::Record { module, id } => match may_read(actor, module) {
                None => None,
                Some(def) => tx
                    .get_record(def.name, *id)
                    .await?
                    .map(|r| record_label(def, &r.data)),
            },
        })
    }

    /// How many links a record has (for its deletion's audit entry).
    pub(crate) async fn count_links(
        tx: &mut dyn TenantTx,
        module: &str,
        id: RecordId,
    ) -> ServiceResult<usize> {
        Ok(tx
            .list_links(&LinkEnd::record(module, id), MAX_LINKS)
            .await?
            .len())
    }
}
