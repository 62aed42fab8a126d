//! The system profile (one per organization): read by members, written by OrgAdmins, audited.

use serde_json::{Value, json};
use tater_domain::Actor;
use tater_domain::module::record_view;
use tater_domain::modules::{SYSTEM_PROFILE, system_profile_record_id};
use tater_domain::policy::{Action, authorize};

use crate::{Service, ServiceResult};

impl Service {
    /// The profile, or `{"configured": false}` before an OrgAdmin has written one.
    pub async fn get_system_profile(&self, actor: &Actor) -> ServiceResult<Value> {
        let permit = authorize(actor, Action::Read)?;
        let mut tx = self.store.tenant(&permit.read_only()).await?;
        Ok(
            match tx
                .get_record(SYSTEM_PROFILE.name, system_profile_record_id())
                .await?
            {
                Some(r) => {
                    let mut v = record_view(&SYSTEM_PROFILE, &r, self.now().date());
                    v["configured"] = json!(true);
                    v
                }
                None => json!({ "configured": false }),
            },
        )
    }

    /// Creates or replaces the profile (send `version` to refuse overwriting a concurrent
    /// change).
    pub async fn put_system_profile(&self, actor: &Actor, body: &Value) -> ServiceResult<Value> {
        let permit = authorize(actor, Action::ManageSettings)?;
        let id = system_profile_record_id();
        crate::records::upsert_singleton(
            self,
            actor,
            &permit,
            crate::records::Singleton {
                def: &SYSTEM_PROFILE,
                record_id: id,
                entity_id: "system-profile",
            },
            body,
            |_, _| {},
        )
        .await?;
        self.get_system_profile(actor).await
    }
}
