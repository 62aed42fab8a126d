//! PostgreSQL only: row-level security blocks a query that forgot its tenant filter.

use serde_json::json;
use sqlx::Connection;
use tater_domain::modules::POAM;
use tater_testkit::TestDb;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rls_alone_blocks_an_unfiltered_query() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (b, sb) = new_org(&*store, "B").await;
    insert(
        &*store,
        &sa,
        &POAM,
        json!({"title": "a-secret", "weaknessDescription": "w"}),
        NOW,
    )
    .await;
    insert(
        &*store,
        &sb,
        &POAM,
        json!({"title": "b-secret", "weaknessDescription": "w"}),
        NOW,
    )
    .await;

    // Raw SQL as the application's role, bypassing the typed scope entirely.
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let superuser: bool = sqlx::query_scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(!superuser, "the test must run as a role RLS applies to");

    let count = "SELECT count(*) FROM records";
    let n: i64 = sqlx::query_scalar(count)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0, "no tenant set: nothing visible");

    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('tater.tenant_id', $1, true)")
        .bind(a.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let titles: Vec<String> = sqlx::query_scalar("SELECT data->>'title' FROM records")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        titles,
        vec!["a-secret".to_string()],
        "only tenant A's rows, with no WHERE clause"
    );
    let touched = sqlx::query("UPDATE records SET data = jsonb_set(data, '{title}', '\"pwned\"')")
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(touched, 1, "an unfiltered UPDATE reaches only tenant A");
    let forged = sqlx::query(
        "INSERT INTO records (tenant_id, module, id, data, version, created_at, updated_at, created_by, updated_by) \
         VALUES ($1, 'poam', 'x', '{}', 1, 0, 0, 'x', 'x')",
    )
    .bind(b.to_string())
    .execute(&mut *tx)
    .await;
    assert!(forged.is_err(), "writing a row into tenant B is refused");
    tx.rollback().await.unwrap();

    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(audit, 0, "audit log is tenant data too");
}
