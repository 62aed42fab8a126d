use std::sync::Arc;

use serde_json::{Value, json};
use tater_domain::module::{ModuleDef, Record, RecordMeta, parse_list_query, validate};
use tater_domain::{Actor, AuditAction, AuditDraft, Channel, Org, OrgId, RecordId, Timestamp};
use tater_domain::{Permit, SystemPurpose};
use tater_store::{Mode, Store};
use tater_testkit::TestDb;
use time::macros::date;

pub const NOW: i64 = 1_796_000_000_000;

pub async fn open(db: &TestDb) -> Arc<dyn Store> {
    tater_store::open(&db.url).await.expect("open store")
}

/// One organization's data as the suite reaches it: through system permits (the store opens
/// tenant transactions only from a permit).
#[derive(Debug, Clone, Copy)]
pub struct Scope(pub OrgId);

impl Scope {
    pub fn permit(&self, mode: Mode) -> Permit {
        Permit::system(self.0, SystemPurpose::Inspection, mode)
    }

    pub fn org(&self) -> OrgId {
        self.0
    }
}

pub fn system(org: OrgId) -> Actor {
    Actor::system("conformance", "test", org, Channel::Api)
}

pub async fn new_org(store: &dyn Store, name: &str) -> (OrgId, Scope) {
    let org = Org {
        id: OrgId::generate(),
        name: name.to_owned(),
        entra_tenant_id: None,
        created_at: Timestamp::from_millis(NOW),
        updated_at: Timestamp::from_millis(NOW),
        termination: None,
    };
    let audit = AuditDraft::new(
        &system(org.id),
        AuditAction::Create,
        "organization",
        org.id,
        org.created_at,
    );
    let mut tx = store.identity(Mode::Write).await.unwrap();
    tx.insert_org(&org, &audit).await.unwrap();
    tx.commit().await.unwrap();
    (org.id, Scope(org.id))
}

pub fn record(def: &ModuleDef, body: Value, at: i64) -> Record {
    let data = validate(
        def,
        &body,
        None,
        &tater_domain::module::Context::on(date!(2026 - 11 - 29)),
    )
    .expect("valid body");
    let t = Timestamp::from_millis(at);
    Record {
        meta: RecordMeta {
            id: RecordId::generate(),
            version: 1,
            created_at: t,
            updated_at: t,
            created_by: "system:conformance".into(),
            updated_by: "system:conformance".into(),
        },
        data,
    }
}

pub fn audit_for(scope: &Scope, action: AuditAction, def: &ModuleDef, id: RecordId) -> AuditDraft {
    AuditDraft::new(
        &system(scope.org()),
        action,
        def.entity_type,
        id,
        Timestamp::from_millis(NOW),
    )
    .with_changes(None, Some(&json!({"k": 1})), &[])
}

pub async fn insert(
    store: &dyn Store,
    scope: &Scope,
    def: &ModuleDef,
    body: Value,
    at: i64,
) -> Record {
    let rec = record(def, body, at);
    let mut tx = store.tenant(&scope.permit(Mode::Write)).await.unwrap();
    tx.insert_record(
        def.name,
        &rec,
        &audit_for(scope, AuditAction::Create, def, rec.meta.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rec
}

pub async fn list(
    store: &dyn Store,
    scope: &Scope,
    def: &ModuleDef,
    params: &[(&str, &str)],
) -> Vec<Record> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let q = parse_list_query(def, &params, date!(2026 - 11 - 29), &[]).expect("valid query");
    let mut tx = store.tenant(&scope.permit(Mode::Read)).await.unwrap();
    tx.list_records(def.name, &q).await.unwrap()
}

pub fn titles(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.data["title"].as_str().unwrap().to_owned())
        .collect()
}
