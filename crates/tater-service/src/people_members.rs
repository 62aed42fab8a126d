//! People ↔ members: a People record names the member of the organization with its e-mail
//! address in `member` (their user id, or null). The server sets it whenever the record is
//! written and again whenever it is read, so a contact who joins later, leaves, or changes
//! address is shown as they are now.

use std::collections::HashMap;

use serde_json::{Map, Value};
use tater_domain::module::ModuleDef;
use tater_domain::modules::PEOPLE;
use tater_store::TenantTx;

use crate::ServiceResult;

/// The field a People record names its member in.
const MEMBER: &str = "member";

/// The organization's members by e-mail address (lower case), as user ids.
async fn members_by_email(tx: &mut dyn TenantTx) -> ServiceResult<HashMap<String, String>> {
    Ok(tx
        .members()
        .await?
        .into_iter()
        .map(|(_, user)| (user.email.to_string().to_lowercase(), user.id.to_string()))
        .collect())
}

fn matched(data: &mut Map<String, Value>, members: &HashMap<String, String>) {
    let member = data
        .get("email")
        .and_then(Value::as_str)
        .and_then(|e| members.get(&e.to_lowercase()))
        .map_or(Value::Null, |id| Value::String(id.clone()));
    data.insert(MEMBER.into(), member);
}

/// Sets `member` in a People record about to be written (other modules: nothing).
pub(crate) async fn match_record(
    tx: &mut dyn TenantTx,
    def: &ModuleDef,
    data: &mut Map<String, Value>,
) -> ServiceResult<()> {
    if def.name == PEOPLE.name {
        matched(data, &members_by_email(tx).await?);
    }
    Ok(())
}

/// Sets `member` in People views about to be answered, from the members as they are now.
pub(crate) async fn match_views(
    tx: &mut dyn TenantTx,
    def: &ModuleDef,
    views: &mut [Value],
) -> ServiceResult<()> {
    if def.name != PEOPLE.name || views.is_empty() {
        return Ok(());
    }
    let members = members_by_email(tx).await?;
    for view in views.iter_mut() {
        if let Value::Object(data) = view {
            matched(data, &members);
        }
    }
    Ok(())
}
