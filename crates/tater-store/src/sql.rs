//! Compiles list queries to SQL for either engine. Field names come from module declarations
//! (never from clients) and are checked again here; every value is a bound parameter.

use tater_domain::module::{CmpOp, Condition, ListQuery, Operand, PageCursor, Scalar, ValueType};

use crate::Engine;

/// A value to bind, in order, after the SQL text's `$n` placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Text(String),
    Int(i64),
    Real(f64),
}

/// SQL text plus its arguments, numbered from a starting placeholder.
pub struct SqlBuilder {
    pub engine: Engine,
    pub sql: String,
    pub args: Vec<Arg>,
    first: usize,
}

impl SqlBuilder {
    /// `first` is the number of placeholders the caller has already used.
    pub fn new(engine: Engine, sql: impl Into<String>, first: usize) -> Self {
        Self {
            engine,
            sql: sql.into(),
            args: Vec::new(),
            first,
        }
    }

    pub fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// Adds a bound value and returns its placeholder.
    pub fn arg(&mut self, arg: Arg) -> String {
        self.bind(arg)
    }

    /// Appends `(p, p, …), (p, p, …)` for rows of values (a multi-row `VALUES` list).
    pub fn values(&mut self, rows: impl IntoIterator<Item = Vec<Arg>>) {
        let mut first = true;
        for row in rows {
            let ps: Vec<String> = row.into_iter().map(|a| self.bind(a)).collect();
            if !first {
                self.sql.push_str(", ");
            }
            first = false;
            self.sql.push('(');
            self.sql.push_str(&ps.join(", "));
            self.sql.push(')');
        }
    }

    /// Appends ` IN (p, p, …)` for the values.
    pub fn in_list(&mut self, values: impl IntoIterator<Item = Arg>) {
        let ps: Vec<String> = values.into_iter().map(|a| self.bind(a)).collect();
        self.sql.push_str(&format!(" IN ({})", ps.join(", ")));
    }

    fn bind(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.first + self.args.len())
    }

    fn bind_scalar(&mut self, operand: Operand, s: &Scalar) -> String {
        match (operand, s) {
            (Operand::CreatedAt | Operand::UpdatedAt, Scalar::Number(n)) => {
                self.bind(Arg::Int(*n as i64))
            }
            (_, Scalar::Text(t)) => self.bind(Arg::Text(t.clone())),
            (_, Scalar::Number(n)) => self.bind(Arg::Real(*n)),
            (_, Scalar::Bool(b)) => self.bind(Arg::Int(i64::from(*b))),
        }
    }
}

/// A declared field name is letters and digits only; anything else is a programming error that
/// must not reach SQL text.
fn checked(name: &'static str) -> &'static str {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        name
    } else {
        "invalid_field_name"
    }
}

/// A field's value as text (a `GROUP BY` key; absent or null is NULL).
pub fn text_expr(engine: Engine, name: &'static str) -> String {
    let name = checked(name);
    match engine {
        Engine::Sqlite => format!("json_extract(data, '$.{name}')"),
        Engine::Postgres => format!("(data->>'{name}')"),
    }
}

fn number_expr(engine: Engine, name: &'static str) -> String {
    let name = checked(name);
    match engine {
        Engine::Sqlite => format!("json_extract(data, '$.{name}')"),
        Engine::Postgres => format!("(data->>'{name}')::double precision"),
    }
}

/// The size in bytes of a text column (0 when NULL).
pub fn byte_length(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Sqlite => format!("COALESCE(length(CAST({column} AS BLOB)), 0)"),
        Engine::Postgres => format!("COALESCE(octet_length({column}), 0)"),
    }
}

/// A text column that compares and sorts by its bytes on either engine (SQLite's default
/// collation already does; PostgreSQL's follows the database's locale unless told).
pub fn bytewise(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Sqlite => column.to_owned(),
        Engine::Postgres => format!("{column} COLLATE \"C\""),
    }
}

/// How strongly a write transaction locks a row it read (see [`lock_rows_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// The row is updated, its keys kept: rows of other tables may still refer to it.
    Update,
    /// The row is deleted or its unique columns change.
    UpdateKeys,
}

/// The clause that locks the rows of table alias `alias` in a `SELECT` (with joins) until
/// the transaction ends; nothing on SQLite, where a writer is alone anyway.
pub fn lock_rows_of(engine: Engine, lock: RowLock, alias: &str) -> String {
    match (engine, lock) {
        (Engine::Sqlite, _) => String::new(),
        (Engine::Postgres, RowLock::Update) => format!(" FOR NO KEY UPDATE OF {alias}"),
        (Engine::Postgres, RowLock::UpdateKeys) => format!(" FOR UPDATE OF {alias}"),
    }
}

/// Integer values of a field, as a `GROUP BY` key.
pub fn integer_expr(engine: Engine, name: &'static str) -> String {
    let name = checked(name);
    match engine {
        Engine::Sqlite => format!("json_extract(data, '$.{name}')"),
        Engine::Postgres => format!("(data->>'{name}')::bigint"),
    }
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL expression that compares and sorts like the operand.
fn operand_expr(engine: Engine, operand: Operand) -> String {
    match operand {
        Operand::CreatedAt => "created_at".into(),
        Operand::UpdatedAt => "updated_at".into(),
        Operand::Field { name, ty } => match ty {
            ValueType::Text | ValueType::List => text_expr(engine, name),
            ValueType::Number => number_expr(engine, name),
            ValueType::Bool => match engine {
                Engine::Sqlite => text_expr(engine, name),
                Engine::Postgres => format!("(data->>'{}')::boolean::int", checked(name)),
            },
            ValueType::Rank(values) => {
                let mut s = format!("CASE {}", text_expr(engine, name));
                for (i, v) in values.iter().enumerate() {
                    s.push_str(&format!(" WHEN {} THEN {i}", quote_literal(v)));
                }
                s.push_str(" END");
                s
            }
        },
    }
}

/// The operand as compared with `=`/`IN` on its stored value (enums by text, not rank).
fn value_expr(engine: Engine, operand: Operand) -> String {
    match operand {
        Operand::Field {
            name,
            ty: ValueType::Rank(_),
        } => text_expr(engine, name),
        other => operand_expr(engine, other),
    }
}

fn cmp_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Lt => "<",
        CmpOp::Lte => "<=",
        CmpOp::Gt => ">",
        CmpOp::Gte => ">=",
    }
}

/// Appends ` AND (<condition>)` for each condition.
pub fn push_conditions(b: &mut SqlBuilder, conditions: &[Condition]) {
    for c in conditions {
        let sql = condition(b, c);
        b.push(" AND (");
        b.push(&sql);
        b.push(")");
    }
}

fn condition(b: &mut SqlBuilder, c: &Condition) -> String {
    let engine = b.engine;
    match c {
        Condition::Eq(o, s) => {
            let e = value_expr(engine, *o);
            format!("{e} = {}", b.bind_scalar(*o, s))
        }
        Condition::In(o, values) | Condition::NotIn(o, values) => {
            if values.is_empty() {
                return if matches!(c, Condition::In(..)) {
                    "1 = 0"
                } else {
                    "1 = 1"
                }
                .into();
            }
            let e = value_expr(engine, *o);
            let ps: Vec<String> = values.iter().map(|v| b.bind_scalar(*o, v)).collect();
            let not = if matches!(c, Condition::NotIn(..)) {
                "NOT "
            } else {
                ""
            };
            format!("{e} IS NOT NULL AND {e} {not}IN ({})", ps.join(", "))
        }
        Condition::Cmp(o, op, s) => {
            let e = value_expr(engine, *o);
            format!("{e} {} {}", cmp_sql(*op), b.bind_scalar(*o, s))
        }
        Condition::IsNull(o) => format!("{} IS NULL", value_expr(engine, *o)),
        Condition::NotNull(o) => format!("{} IS NOT NULL", value_expr(engine, *o)),
        Condition::Contains(o, value) => {
            let Operand::Field { name, .. } = o else {
                return "1 = 0".into();
            };
            let p = b.bind(Arg::Text(value.clone()));
            let name = checked(name);
            match engine {
                Engine::Sqlite => format!(
                    "EXISTS (SELECT 1 FROM json_each(data, '$.{name}') AS j WHERE j.value = {p})"
                ),
                Engine::Postgres => format!("(data->'{name}') @> jsonb_build_array({p}::text)"),
            }
        }
        Condition::Search(fields, text) => {
            if text.is_empty() {
                return "1 = 1".into();
            }
            if fields.is_empty() {
                return "1 = 0".into();
            }
            let p = b.bind(Arg::Text(text.clone()));
            let parts: Vec<String> = fields
                .iter()
                .map(|o| {
                    let e = value_expr(engine, *o);
                    match engine {
                        Engine::Sqlite => format!("instr(lower({e}), lower({p})) > 0"),
                        Engine::Postgres => format!("strpos(lower({e}), lower({p})) > 0"),
                    }
                })
                .collect();
            parts.join(" OR ")
        }
        Condition::All(cs) | Condition::Any(cs) => {
            if cs.is_empty() {
                return if matches!(c, Condition::All(_)) {
                    "1 = 1"
                } else {
                    "1 = 0"
                }
                .into();
            }
            let joiner = if matches!(c, Condition::All(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts: Vec<String> = cs
                .iter()
                .map(|c| format!("({})", condition(b, c)))
                .collect();
            parts.join(joiner)
        }
    }
}

/// Appends the keyset condition for the page after `cursor`, the `ORDER BY` and the `LIMIT`
/// (one more than the page, so the caller can tell whether another page follows).
///
/// Timestamps are never null, so they sort on the plain column and a row-value comparison
/// that the `(tenant_id, module, created_at, id)` index serves directly. Field values may be
/// null: those sort last in both directions on both engines, via a leading `IS NULL` key.
pub fn push_page(b: &mut SqlBuilder, query: &ListQuery) {
    let e = operand_expr(b.engine, query.sort.operand);
    let (cmp, dir) = if query.sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let nullable = !matches!(query.sort.operand, Operand::CreatedAt | Operand::UpdatedAt);
    if let Some(PageCursor { value, id }) = &query.after {
        let id = b.bind(Arg::Text(id.to_string()));
        let sql = match value {
            None => format!(" AND ({e} IS NULL AND id {cmp} {id})"),
            Some(v) if !nullable => {
                let v = b.bind_scalar(query.sort.operand, v);
                format!(" AND ({e}, id) {cmp} ({v}, {id})")
            }
            Some(v) => {
                let v = b.bind_scalar(query.sort.operand, v);
                format!(
                    " AND (({e} IS NOT NULL AND ({e} {cmp} {v} OR ({e} = {v} AND id {cmp} {id}))) OR {e} IS NULL)"
                )
            }
        };
        b.push(&sql);
    }
    let nulls_last = if nullable {
        format!("({e} IS NULL) ASC, ")
    } else {
        String::new()
    };
    b.push(&format!(
        " ORDER BY {nulls_last}{e} {dir}, id {dir} LIMIT {}",
        u64::from(query.limit) + 1
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tater_domain::module::ValueType;

    #[test]
    fn field_names_never_carry_sql() {
        assert_eq!(checked("title"), "title");
        assert_eq!(checked("x') OR 1=1 --"), "invalid_field_name");
    }

    #[test]
    fn builds_numbered_placeholders() {
        let mut b = SqlBuilder::new(Engine::Postgres, "SELECT 1 WHERE tenant_id = $1", 1);
        let status = Operand::Field {
            name: "status",
            ty: ValueType::Rank(&["Open", "Closed"]),
        };
        push_conditions(
            &mut b,
            &[
                Condition::In(status, vec![Scalar::Text("Open".into())]),
                Condition::IsNull(status),
            ],
        );
        assert_eq!(
            b.sql,
            "SELECT 1 WHERE tenant_id = $1 AND ((data->>'status') IS NOT NULL AND (data->>'status') IN ($2)) AND ((data->>'status') IS NULL)"
        );
        assert_eq!(b.args, vec![Arg::Text("Open".into())]);
    }
}
