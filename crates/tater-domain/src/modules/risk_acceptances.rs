//! Risk acceptances and exceptions: a documented decision to live with a failing control,
//! organization-wide or on one endpoint, until a date. While active, it turns the matching
//! failed checks into "Override" in posture.

use serde_json::{Map, Value};
use time::{Date, Duration};

use crate::Role;
use crate::ValidationErrors;
use crate::module::{
    CmpOp, Condition, Context, Derived, DerivedWhen, FieldDef, ModuleDef, Operand, Scalar,
    ValueType,
};
use crate::time::{format_date, parse_date};

pub const STATUSES: &[&str] = &["Active", "Expired", "Revoked"];

pub static RISK_ACCEPTANCES: ModuleDef = ModuleDef {
    name: "risk-acceptances",
    entity_type: "risk-acceptance",
    singular: "Risk acceptance",
    plural: "Risk acceptances",
    nouns: ("risk_acceptance", "risk_acceptances"),
    description: "An accepted risk for a failing control, organization-wide or on one endpoint, until it expires or is revoked.",
    read_role: Role::Viewer,
    fields: &[
        FieldDef::control_id("control", "Control")
            .required()
            .filter()
            .sort(),
        FieldDef::endpoint_ref("endpoint", "Endpoint (empty: every endpoint)").filter(),
        FieldDef::long_text("justification", "Justification", 8000)
            .required()
            .search(),
        FieldDef::long_text("compensatingControls", "Compensating controls", 8000).search(),
        FieldDef::text("approvedBy", "Approved by", 300)
            .filter()
            .search(),
        FieldDef::date("expires", "Expires on")
            .required()
            .filter()
            .sort(),
        FieldDef::date("revokedOn", "Revoked on").filter(),
        FieldDef::long_text("revocationReason", "Reason for revocation", 4000),
        FieldDef::record_ref("exception", "From exception", "exceptions").filter(),
    ],
    derived: &[Derived {
        name: "status",
        label: "Status",
        value_type: ValueType::Rank(STATUSES),
        when: DerivedWhen::Read,
        compute: status,
        filter: Some(status_filter),
        sort: false,
    }],
    rules,
    csv_columns: &[
        "id",
        "control",
        "endpoint",
        "status",
        "justification",
        "compensatingControls",
        "approvedBy",
        "expires",
        "revokedOn",
        "revocationReason",
        "exception",
        "createdAt",
        "updatedAt",
    ],
    default_sort: "-createdAt",
    flow: None,
    on_create: None,
    holds: &[],
    remind: &[],
    starter_records: &[],
    retention: None,
};

fn date_field(data: &Map<String, Value>, name: &str) -> Option<Date> {
    data.get(name)
        .and_then(Value::as_str)
        .and_then(|s| parse_date(s).ok())
}

/// Revoked once the revocation date has come; expired after the expiry date; active otherwise.
fn status_on(data: &Map<String, Value>, today: Date) -> &'static str {
    if date_field(data, "revokedOn").is_some_and(|d| d <= today) {
        "Revoked"
    } else if date_field(data, "expires").is_some_and(|d| d < today) {
        "Expired"
    } else {
        "Active"
    }
}

fn status(data: &Map<String, Value>, today: Date) -> Value {
    Value::String(status_on(data, today).to_owned())
}

/// Whether an acceptance record is active today.
pub fn is_active(data: &Map<String, Value>, today: Date) -> bool {
    status_on(data, today) == "Active"
}

/// `status=Active|Expired|Revoked` as a store condition, consistent with [`status_on`].
fn status_filter(value: &str, today: Date) -> Result<Condition, String> {
    let revoked_on = Operand::Field {
        name: "revokedOn",
        ty: ValueType::Text,
    };
    let expires = Operand::Field {
        name: "expires",
        ty: ValueType::Text,
    };
    let today = Scalar::Text(format_date(today));
    let revoked = Condition::All(vec![
        Condition::NotNull(revoked_on),
        Condition::Cmp(revoked_on, CmpOp::Lte, today.clone()),
    ]);
    let not_revoked = Condition::Any(vec![
        Condition::IsNull(revoked_on),
        Condition::Cmp(revoked_on, CmpOp::Gt, today.clone()),
    ]);
    Ok(match value {
        "Revoked" => revoked,
        "Expired" => Condition::All(vec![not_revoked, Condition::Cmp(expires, CmpOp::Lt, today)]),
        "Active" => Condition::All(vec![
            not_revoked,
            Condition::Cmp(expires, CmpOp::Gte, today),
        ]),
        _ => return Err(format!("must be one of: {}", STATUSES.join(", "))),
    })
}

fn rules(data: &Map<String, Value>, ctx: &Context, errors: &mut ValidationErrors) {
    if let Some(expires) = date_field(data, "expires") {
        let latest = ctx.today + Duration::days(ctx.max_acceptance_days);
        if expires > latest {
            errors.add(
                "expires",
                format!(
                    "must be at most {} days from today ({})",
                    ctx.max_acceptance_days,
                    format_date(latest)
                ),
            );
        }
    }
    let endpoint = data.get("endpoint").and_then(Value::as_str);
    if endpoint.is_some_and(|e| e.parse::<crate::EndpointId>().is_err()) {
        errors.add("endpoint", "must be an endpoint id");
    }
    let revoked = data.get("revokedOn").is_some_and(|v| !v.is_null());
    let reason = data.get("revocationReason").is_some_and(|v| !v.is_null());
    if revoked && !reason {
        errors.add(
            "revocationReason",
            "is required when the acceptance is revoked",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::validate;
    use serde_json::json;
    use time::macros::date;

    #[test]
    fn status_follows_dates_and_expiry_is_capped() {
        let ctx = Context::on(date!(2026 - 11 - 29));
        let ok = validate(
            &RISK_ACCEPTANCES,
            &json!({"control": "AC-2(1)", "justification": "legacy app", "expires": "2027-01-31"}),
            None,
            &ctx,
        )
        .unwrap();
        assert_eq!(ok["control"], json!("ac-2.1"));
        assert_eq!(status(&ok, date!(2026 - 11 - 29)), json!("Active"));
        assert_eq!(
            status(&ok, date!(2027 - 01 - 31)),
            json!("Active"),
            "active through its last day"
        );
        assert_eq!(status(&ok, date!(2027 - 02 - 01)), json!("Expired"));
        let too_long = validate(
            &RISK_ACCEPTANCES,
            &json!({"control": "ac-2", "justification": "j", "expires": "2027-11-30"}),
            None,
            &ctx,
        )
        .unwrap_err();
        assert_eq!(too_long.0[0].field, "expires");
        let revoked = validate(&RISK_ACCEPTANCES, &json!({"control": "ac-2", "justification": "j", "expires": "2027-01-01", "revokedOn": "2026-11-29", "revocationReason": "fixed"}), None, &ctx).unwrap();
        assert_eq!(status(&revoked, date!(2026 - 11 - 29)), json!("Revoked"));
        let bad = validate(&RISK_ACCEPTANCES, &json!({"control": "ac-2", "justification": "j", "expires": "2027-01-01", "endpoint": "web-01"}), None, &ctx).unwrap_err();
        assert_eq!(bad.0[0].field, "endpoint");
    }
}
