//! Use cases of declared modules: list, get, create, update, delete, export, heat map.

use serde_json::{Map, Value};
use tater_domain::module::{
    ListQuery, ModuleDef, PageCursor, Record, RecordMeta, into_record_view, parse_list_query,
    record_view, validate,
};
use tater_domain::policy::{Action, Permit, authorize};
use tater_domain::{Actor, AuditAction, AuditDraft, RecordId, Timestamp, ValidationErrors};
use tater_store::TenantTx;

use crate::{Service, ServiceError, ServiceResult, people_members};

/// One page of a list, as every channel shows it: `{"items": [...], "nextCursor": ...}`.
/// Lists with a view type of their own page that type; the rest still page JSON values.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T = Value> {
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: serde::Serialize> Page<T> {
    /// The same page with its items as JSON values (for channels that pass any list on).
    pub fn into_values(self) -> ServiceResult<Page> {
        Ok(Page {
            items: to_values(&self.items)?,
            next_cursor: self.next_cursor,
        })
    }
}

/// Views as JSON values, for writers that take any list (the zip archive, list exports).
pub fn to_values<T: serde::Serialize>(views: &[T]) -> ServiceResult<Vec<Value>> {
    views
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|e| ServiceError::Internal(e.into()))
}

/// Counts of risks on the 5×5 grid: `cells[likelihood - 1][impact - 1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatMap {
    pub residual: bool,
    pub cells: [[i64; 5]; 5],
    /// Risks without both ratings.
    pub unscored: i64,
}

/// An export in progress: pages of records in list order, read one transaction at a time so a
/// million rows never sit in memory at once.
pub struct RecordExport {
    service: Service,
    actor: Actor,
    permit: Permit,
    def: &'static ModuleDef,
    query: ListQuery,
    done: bool,
}

/// Rows per page of an export.
const EXPORT_PAGE: u32 = 500;

/// An id from a path or a tool's input. One that cannot be decoded cannot exist: it is as
/// absent as one that does not (404, never a parse error).
pub(crate) fn parse_id<T: std::str::FromStr>(id: &str) -> ServiceResult<T> {
    id.trim().parse().map_err(|_| ServiceError::NotFound)
}

impl Service {
    /// Control ids must name controls of the catalog (the shape was checked by validation).
    fn check_control_ids(
        &self,
        def: &ModuleDef,
        data: &serde_json::Map<String, Value>,
    ) -> ServiceResult<()> {
        use tater_domain::module::FieldKind;
        let catalog = self.catalog()?;
        let mut errors = ValidationErrors::new();
        for field in def
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::ControlId | FieldKind::ControlIds))
        {
            let ids: Vec<&str> = match data.get(field.name) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if let Some(unknown) = ids.iter().find(|id| catalog.control(id).is_none()) {
                errors.add(
                    field.name,
                    format!("{unknown} is not a control of the catalog"),
                );
            }
        }
        errors.into_result(())?;
        Ok(())
    }

    /// What validation rules may depend on: today and the configured limits.
    pub(crate) fn rule_context(&self) -> tater_domain::module::Context {
        tater_domain::module::Context {
            today: self.today(),
            max_acceptance_days: self.compliance.max_acceptance_days,
        }
    }

    pub(crate) fn today(&self) -> time::Date {
        self.clock.now().date()
    }

    pub(crate) fn view(&self, def: &ModuleDef, record: &Record) -> Value {
        record_view(def, record, self.today())
    }

    /// [`Service::view`] of a record no longer needed: its values move into the view.
    pub(crate) fn view_taking(&self, def: &ModuleDef, record: Record) -> Value {
        into_record_view(def, record, self.today())
    }

    /// Parses list parameters for `def` (errors name the parameter).
    pub fn list_query(
        &self,
        def: &ModuleDef,
        params: &[(String, String)],
        reserved: &[&str],
    ) -> ServiceResult<ListQuery> {
        Ok(parse_list_query(def, params, self.today(), reserved)?)
    }

    pub async fn list_records(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        query: &ListQuery,
    ) -> ServiceResult<Page> {
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let (rows, more) = tx
            .page_records(def.name, query, crate::paging::PAGE_BYTES)
            .await?;
        let next_cursor = match (more, rows.last()) {
            (true, Some(last)) => Some(
                PageCursor {
                    value: query.sort.value_of(last),
                    id: last.meta.id,
                }
                .encode(&query.sort),
            ),
            _ => None,
        };
        let mut items: Vec<Value> = rows.into_iter().map(|r| self.view_taking(def, r)).collect();
        people_members::match_views(&mut *tx, def, &mut items).await?;
        Ok(Page { items, next_cursor })
    }

    pub async fn get_record(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
    ) -> ServiceResult<Value> {
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        let id = parse_id(id)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let record = existing(&mut *tx, def, id).await?;
        let mut view = self.view_taking(def, record);
        people_members::match_views(&mut *tx, def, std::slice::from_mut(&mut view)).await?;
        Ok(view)
    }

    pub async fn create_record(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        body: &Value,
    ) -> ServiceResult<Value> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let mut data = validate(def, body, None, &self.rule_context())?;
        self.check_control_ids(def, &data)?;
        let mut tx = self.store.tenant(&permit).await?;
        people_members::match_record(&mut *tx, def, &mut data).await?;
        let now = self.clock.now();
        let record = new_record(RecordId::generate(), actor, data, now);
        let after = Value::Object(record.data.clone());
        let audit = AuditDraft::new(
            actor,
            AuditAction::Create,
            def.entity_type,
            record.meta.id,
            now,
        )
        .with_changes(None, Some(&after), &[]);
        check_references(&mut *tx, def, &record.data, None).await?;
        tx.insert_record(def.name, &record, &audit).await?;
        if let Some(effect) = def.on_create {
            self.apply_effect(&mut *tx, actor, effect, &record, Default::default(), now)
                .await?;
        }
        tx.commit().await?;
        Ok(self.view(def, &record))
    }

    /// Full replacement. A `version` in the body must match the stored one (else 409), so two
    /// people editing the same record cannot silently overwrite each other. An update that
    /// changes nothing writes nothing and is not audited.
    pub async fn update_record(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
        body: &Value,
    ) -> ServiceResult<Value> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id = parse_id(id)?;
        let mut tx = self.store.tenant(&permit).await?;
        let current = existing(&mut *tx, def, id).await?;
        check_editable(def, &current)?;
        let mut data = validate(def, body, Some(&current.data), &self.rule_context())?;
        self.check_control_ids(def, &data)?;
        check_version(body, current.meta.version)?;
        people_members::match_record(&mut *tx, def, &mut data).await?;
        if data == current.data {
            return Ok(self.view(def, &current));
        }
        check_references(&mut *tx, def, &data, Some(&current.data)).await?;
        let now = self.clock.now();
        let before = Value::Object(current.data.clone());
        let after = Value::Object(data.clone());
        let updated = next_version(&current, actor, data, now);
        let audit = AuditDraft::new(actor, AuditAction::Update, def.entity_type, id, now)
            .with_changes(Some(&before), Some(&after), &[]);
        tx.update_record(def.name, &updated, current.meta.version, &audit)
            .await?;
        tx.commit().await?;
        Ok(self.view(def, &updated))
    }

    pub async fn delete_record(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        id: &str,
    ) -> ServiceResult<()> {
        let permit = authorize(actor, Action::WriteRecord)?;
        let id = parse_id(id)?;
        let mut tx = self.store.tenant(&permit).await?;
        let current = existing(&mut *tx, def, id).await?;
        let before = Value::Object(current.data.clone());
        // The record's links go with it; its entry says how many.
        let links = Service::count_links(&mut *tx, def.name, id).await?;
        // So does what the module declares it holds (snapshots, files, published versions).
        let held = self.held_by(&mut *tx, actor, def, id).await?;
        let mut audit = AuditDraft::new(
            actor,
            AuditAction::Delete,
            def.entity_type,
            id,
            self.clock.now(),
        )
        .with_changes(Some(&before), None, &[]);
        if links > 0 {
            audit = audit.with_detail("_linksRemoved", links.into());
        }
        for (key, count) in &held.details {
            audit = audit.with_detail(key, (*count).into());
        }
        tx.delete_record(def.name, id, current.meta.version, &audit)
            .await?;
        tx.commit().await?;
        self.forget_blobs(actor, held.files).await;
        Ok(())
    }

    /// The ids of every record of `def` the actor may read, page by page (for exports that
    /// walk what each record holds).
    pub(crate) async fn all_record_ids(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
    ) -> ServiceResult<Vec<RecordId>> {
        let query = self.list_query(def, &[], &[])?;
        let mut records = self.export_records(actor, def, query)?;
        let mut ids = Vec::new();
        while let Some(page) = records.next_page().await? {
            for view in page {
                if let Some(id) = view.get("id").and_then(Value::as_str) {
                    ids.push(parse_id(id)?);
                }
            }
        }
        Ok(ids)
    }

    /// Starts an export of every record matching `query` (its limit and cursor are ignored).
    pub fn export_records(
        &self,
        actor: &Actor,
        def: &'static ModuleDef,
        mut query: ListQuery,
    ) -> ServiceResult<RecordExport> {
        let permit = authorize(actor, Action::ReadRecords(def.read_role))?;
        query.limit = EXPORT_PAGE;
        query.after = None;
        Ok(RecordExport {
            service: self.clone(),
            actor: actor.clone(),
            permit,
            def,
            query,
            done: false,
        })
    }

    /// Counts risks on the 5×5 grid, inherent or residual.
    pub async fn risk_heat_map(&self, actor: &Actor, residual: bool) -> ServiceResult<HeatMap> {
        let permit = authorize(
            actor,
            Action::ReadRecords(tater_domain::modules::RISKS.read_role),
        )?;
        let fields: [&'static str; 2] = if residual {
            ["residualLikelihood", "residualImpact"]
        } else {
            ["likelihood", "impact"]
        };
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        let groups = tx
            .count_by(tater_domain::modules::RISKS.name, &fields)
            .await?;
        let mut map = HeatMap {
            residual,
            cells: [[0; 5]; 5],
            unscored: 0,
        };
        for (key, n) in groups {
            match (
                key.first().copied().flatten(),
                key.get(1).copied().flatten(),
            ) {
                (Some(l @ 1..=5), Some(i @ 1..=5)) => {
                    map.cells[(l - 1) as usize][(i - 1) as usize] += n
                }
                _ => map.unscored += n,
            }
        }
        Ok(map)
    }
}

/// References must name endpoints and records of the record's own organization, checked in
/// the transaction that writes the record. Another organization's ids read as unknown. Ids
/// the stored version already held are not checked again: a record whose referent was deleted
/// since can still be edited.
pub(crate) async fn check_references(
    tx: &mut dyn TenantTx,
    def: &ModuleDef,
    data: &Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> ServiceResult<()> {
    use tater_domain::module::FieldKind;
    let mut errors = ValidationErrors::new();
    for field in def.fields {
        let held = |v: Option<&Value>| -> Vec<String> {
            match v {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let before = held(previous.and_then(|p| p.get(field.name)));
        let ids: Vec<String> = held(data.get(field.name))
            .into_iter()
            .filter(|id| !before.contains(id))
            .collect();
        let message = match field.kind {
            FieldKind::EndpointRef | FieldKind::EndpointRefs => {
                let mut unknown = false;
                for id in &ids {
                    unknown |= match id.parse() {
                        Ok(id) => tx.endpoint(id).await?.is_none(),
                        Err(_) => true,
                    };
                }
                unknown.then(|| "is not an endpoint of this organization".to_owned())
            }
            FieldKind::RecordRef(module) => {
                let mut unknown = false;
                for id in &ids {
                    unknown |= match id.parse() {
                        Ok(id) => tx.get_record(module, id).await?.is_none(),
                        Err(_) => true,
                    };
                }
                unknown.then(|| format!("is not one of this organization's {module} records"))
            }
            _ => None,
        };
        if let Some(message) = message {
            errors.add(field.name, message);
        }
    }
    errors.into_result(())?;
    Ok(())
}

/// The record, or `NotFound` (also for another tenant's id: the scope cannot see it).
async fn existing(tx: &mut dyn TenantTx, def: &ModuleDef, id: RecordId) -> ServiceResult<Record> {
    tx.get_record(def.name, id)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// Creates or replaces a module's one record with a fixed id (a control's overlay, the system
/// profile): validation (plus `extra` checks), the body's `version` against the stored one,
/// and one audit entry naming `entity_id` — none when nothing changed.
/// A module's one record with a fixed id, and the id its audit entries name.
pub(crate) struct Singleton<'a> {
    pub def: &'static ModuleDef,
    pub record_id: RecordId,
    pub entity_id: &'a str,
}

pub(crate) async fn upsert_singleton(
    service: &Service,
    actor: &Actor,
    permit: &Permit,
    Singleton {
        def,
        record_id,
        entity_id,
    }: Singleton<'_>,
    body: &Value,
    extra: impl FnOnce(&mut Map<String, Value>, &mut ValidationErrors),
) -> ServiceResult<()> {
    let now = service.clock.now();
    let mut tx = service.store.tenant(permit).await?;
    let current = tx.get_record(def.name, record_id).await?;
    let mut errors = ValidationErrors::new();
    let mut data = match validate(
        def,
        body,
        current.as_ref().map(|r| &r.data),
        &service.rule_context(),
    ) {
        Ok(d) => d,
        Err(e) => {
            errors = e;
            Map::new()
        }
    };
    extra(&mut data, &mut errors);
    errors.into_result(())?;
    check_version(body, current.as_ref().map_or(0, |r| r.meta.version))?;
    let after = Value::Object(data.clone());
    match current {
        Some(cur) if cur.data == data => return Ok(()),
        Some(cur) => {
            let audit =
                AuditDraft::new(actor, AuditAction::Update, def.entity_type, entity_id, now)
                    .with_changes(Some(&Value::Object(cur.data.clone())), Some(&after), &[]);
            let updated = next_version(&cur, actor, data, now);
            tx.update_record(def.name, &updated, cur.meta.version, &audit)
                .await?;
        }
        None => {
            let audit =
                AuditDraft::new(actor, AuditAction::Create, def.entity_type, entity_id, now)
                    .with_changes(None, Some(&after), &[]);
            tx.insert_record(def.name, &new_record(record_id, actor, data, now), &audit)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A record's first version, written by `actor` now.
pub(crate) fn new_record(
    id: RecordId,
    actor: &Actor,
    data: Map<String, Value>,
    now: Timestamp,
) -> Record {
    Record {
        meta: RecordMeta {
            id,
            version: 1,
            created_at: now,
            updated_at: now,
            created_by: actor.audit_user_id(),
            updated_by: actor.audit_user_id(),
        },
        data,
    }
}

/// The record's next version holding `data`, written by `actor` now.
pub(crate) fn next_version(
    current: &Record,
    actor: &Actor,
    data: Map<String, Value>,
    now: Timestamp,
) -> Record {
    Record {
        meta: RecordMeta {
            version: current.meta.version + 1,
            updated_at: now,
            updated_by: actor.audit_user_id(),
            ..current.meta.clone()
        },
        data,
    }
}

/// A record in a decided state of its flow changes only by its moves (409 `RECORD_DECIDED`).
pub(crate) fn check_editable(def: &ModuleDef, current: &Record) -> ServiceResult<()> {
    let Some(flow) = def.flow else {
        return Ok(());
    };
    let state = current
        .data
        .get(flow.field)
        .and_then(Value::as_str)
        .unwrap_or(flow.initial);
    if flow.is_editable(state) {
        return Ok(());
    }
    let editable = flow.editable.unwrap_or_default().join(", ");
    Err(ServiceError::ConflictCode(
        "RECORD_DECIDED",
        format!(
            "this {} is in '{state}', where it changes only by its moves \
             (POST /api/{}/{{id}}/transitions); it can be edited in: {editable}",
            def.nouns.0.replace('_', " "),
            def.name
        ),
    ))
}

pub(crate) fn check_version(body: &Value, stored: i64) -> ServiceResult<()> {
    match body.get("version") {
        None | Some(Value::Null) => Ok(()),
        Some(v) => match v.as_i64() {
            Some(sent) if sent == stored => Ok(()),
            Some(sent) => Err(ServiceError::Conflict(format!(
                "the record is at version {stored}, not {sent}: someone else changed it; reload and retry"
            ))),
            None => Err(ValidationErrors::single("version", "must be a whole number").into()),
        },
    }
}

impl RecordExport {
    pub fn module(&self) -> &'static ModuleDef {
        self.def
    }

    /// The permit the export was authorized with (to read what goes with it).
    pub fn permit(&self) -> &Permit {
        &self.permit
    }

    /// The next page of record views, or `None` when done.
    pub async fn next_page(&mut self) -> ServiceResult<Option<Vec<Value>>> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .service
            .list_records(&self.actor, self.def, &self.query)
            .await?;
        match page.next_cursor {
            Some(token) => {
                self.query.after = Some(
                    PageCursor::decode(&token, &self.query.sort)
                        .map_err(|e| ServiceError::Internal(e.into()))?,
                );
            }
            None => self.done = true,
        }
        Ok(Some(page.items))
    }
}

impl HeatMap {
    pub fn view(&self) -> HeatMapView {
        HeatMapView {
            kind: if self.residual {
                crate::use_cases::RatingKind::Residual
            } else {
                crate::use_cases::RatingKind::Inherent
            },
            axes: HeatMapAxes {
                rows: "likelihood 1–5",
                columns: "impact 1–5",
            },
            cells: self.cells,
            total: self.cells.iter().flatten().sum(),
            unscored: self.unscored,
        }
    }
}

/// Counts of risks on the 5×5 grid.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct HeatMapView {
    /// Which ratings place the risks.
    pub kind: crate::use_cases::RatingKind,
    pub axes: HeatMapAxes,
    /// `cells[likelihood - 1][impact - 1]` = count.
    pub cells: [[i64; 5]; 5],
    /// Risks on the grid.
    pub total: i64,
    /// Risks without both ratings.
    pub unscored: i64,
}

/// What the grid's rows and columns are.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct HeatMapAxes {
    pub rows: &'static str,
    pub columns: &'static str,
}
