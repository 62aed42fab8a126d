//! The risk register: likelihood × impact on a 5×5 grid, and annualised loss expectancy.

use serde_json::{Map, Value};
use time::Date;

use crate::Role;
use crate::module::{
    Condition, Derived, DerivedWhen, FieldDef, ModuleDef, Operand, ValueType, no_rules,
};

pub const CATEGORIES: &[&str] = &[
    "Operational",
    "Strategic",
    "Compliance",
    "Financial",
    "Technical",
    "Reputational",
];
pub const TREATMENTS: &[&str] = &["Mitigate", "Accept", "Transfer", "Avoid"];
/// Single loss expectancies above a trillion are typing mistakes, not risks.
const MAX_MONEY: f64 = 1.0e12;

pub static RISKS: ModuleDef = ModuleDef {
    name: "risks",
    entity_type: "risk",
    singular: "Risk",
    plural: "Risks",
    nouns: ("risk", "risks"),
    description: "A risk in the register, rated on a 5×5 likelihood × impact grid.",
    read_role: Role::Viewer,
    fields: &[
        super::TITLE,
        FieldDef::long_text("description", "Description", 8000).search(),
        FieldDef::enumeration("category", "Category", CATEGORIES)
            .filter()
            .sort(),
        FieldDef::text("owner", "Owner", 300)
            .filter()
            .sort()
            .search(),
        FieldDef::integer("likelihood", "Likelihood (1–5)", 1, 5)
            .filter()
            .sort(),
        FieldDef::integer("impact", "Impact (1–5)", 1, 5)
            .filter()
            .sort(),
        FieldDef::number("sle", "Single loss expectancy", 0.0, MAX_MONEY)
            .filter()
            .sort(),
        FieldDef::number("aro", "Annualised rate of occurrence", 0.0, 1000.0)
            .filter()
            .sort(),
        FieldDef::enumeration("treatment", "Treatment", TREATMENTS)
            .filter()
            .sort(),
        FieldDef::long_text("treatmentPlan", "Treatment plan", 8000),
        FieldDef::integer("residualLikelihood", "Residual likelihood (1–5)", 1, 5)
            .filter()
            .sort(),
        FieldDef::integer("residualImpact", "Residual impact (1–5)", 1, 5)
            .filter()
            .sort(),
        FieldDef::control_ids("controls", "Linked controls").filter(),
    ],
    derived: &[
        Derived {
            name: "ale",
            label: "Annualised loss expectancy (SLE × ARO)",
            value_type: ValueType::Number,
            when: DerivedWhen::Write,
            compute: ale,
            filter: None,
            sort: true,
        },
        Derived {
            name: "score",
            label: "Inherent score (likelihood × impact)",
            value_type: ValueType::Number,
            when: DerivedWhen::Write,
            compute: score,
            filter: None,
            sort: true,
        },
        Derived {
            name: "residualScore",
            label: "Residual score",
            value_type: ValueType::Number,
            when: DerivedWhen::Write,
            compute: residual_score,
            filter: None,
            sort: true,
        },
        Derived {
            name: "rated",
            label: "Rated (both likelihood and impact set)",
            value_type: ValueType::Bool,
            when: DerivedWhen::Read,
            compute: rated,
            filter: Some(rated_filter),
            sort: false,
        },
    ],
    rules: no_rules,
    csv_columns: &[
        "id",
        "title",
        "description",
        "category",
        "owner",
        "likelihood",
        "impact",
        "score",
        "sle",
        "aro",
        "ale",
        "treatment",
        "treatmentPlan",
        "residualLikelihood",
        "residualImpact",
        "residualScore",
        "controls",
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

fn num(data: &Map<String, Value>, name: &str) -> Option<f64> {
    data.get(name).and_then(Value::as_f64)
}

/// ALE = SLE × ARO, rounded to cents so `0.1 × 3` reads 0.3.
fn ale(data: &Map<String, Value>, _: Date) -> Value {
    match (num(data, "sle"), num(data, "aro")) {
        (Some(sle), Some(aro)) => {
            let cents = (sle * aro * 100.0).round() / 100.0;
            serde_json::Number::from_f64(cents).map_or(Value::Null, Value::Number)
        }
        _ => Value::Null,
    }
}

fn product(data: &Map<String, Value>, a: &str, b: &str) -> Value {
    let int = |n: &str| data.get(n).and_then(Value::as_i64);
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Value::from(x * y),
        _ => Value::Null,
    }
}

fn score(data: &Map<String, Value>, _: Date) -> Value {
    product(data, "likelihood", "impact")
}

fn residual_score(data: &Map<String, Value>, _: Date) -> Value {
    product(data, "residualLikelihood", "residualImpact")
}

/// Whether the risk has both inherent ratings: only then is it on the heat map.
fn rated(data: &Map<String, Value>, _: Date) -> Value {
    let set = |n: &str| data.get(n).is_some_and(|v| !v.is_null());
    Value::Bool(set("likelihood") && set("impact"))
}

/// `rated=true|false` as a store condition, consistent with [`rated`].
fn rated_filter(value: &str, _: Date) -> Result<Condition, String> {
    let [likelihood, impact] = ["likelihood", "impact"].map(|name| Operand::Field {
        name,
        ty: ValueType::Number,
    });
    match value {
        "true" => Ok(Condition::All(vec![
            Condition::NotNull(likelihood),
            Condition::NotNull(impact),
        ])),
        "false" => Ok(Condition::Any(vec![
            Condition::IsNull(likelihood),
            Condition::IsNull(impact),
        ])),
        _ => Err("must be true or false".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::validate;
    use serde_json::json;
    use time::macros::date;

    #[test]
    fn ale_and_scores_are_derived() {
        let r = validate(
            &RISKS,
            &json!({"title": "t", "sle": 0.1, "aro": 3, "likelihood": 4, "impact": 5}),
            None,
            &crate::module::Context::on(date!(2026 - 01 - 01)),
        )
        .unwrap();
        assert_eq!(r["ale"], json!(0.3));
        assert_eq!(r["score"], json!(20));
        assert_eq!(r["residualScore"], json!(null));
        let bad = validate(
            &RISKS,
            &json!({"title": "t", "likelihood": 6, "impact": 2.5}),
            None,
            &crate::module::Context::on(date!(2026 - 01 - 01)),
        )
        .unwrap_err();
        let fields: Vec<&str> = bad.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["likelihood", "impact"]);
    }
}
