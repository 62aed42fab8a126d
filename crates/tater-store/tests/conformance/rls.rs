//! PostgreSQL only: row-level security blocks a query that forgot its tenant filter.

use serde_json::json;
use sqlx::Connection;
use tater_domain::modules::POAM;
use tater_store::Mode;
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

/// The pool does not ping a connection before handing it out (issue 20), so after a database
/// restart it holds dead connections: a transaction that meets one begins on another, and no
/// caller sees an error. Here the server closes every connection of this store at once (as a
/// restart does) while they sit in the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_survive_connections_the_server_closed() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // A name of its own, so that only this store's connections are closed (the tests share a
    // role and a database).
    let name = format!("tater-test-{}", uuid::Uuid::new_v4().simple());
    let mut url = url::Url::parse(&db.url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "application_name")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("application_name", &name);
    let store = tater_store::open(url.as_str()).await.unwrap();
    let (_, scope) = new_org(&*store, "A").await;
    // Several connections in the pool, idle: six transactions open at once, then ended.
    let mut open = Vec::new();
    for _ in 0..6 {
        open.push(store.tenant(&scope.permit(Mode::Read)).await.unwrap());
    }
    drop(open);

    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let closed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1) t",
    )
    .bind(&name)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(closed >= 1, "the store's connections were open");

    for _ in 0..20 {
        let tx = store.tenant(&scope.permit(Mode::Read)).await;
        assert!(tx.is_ok(), "a transaction failed: {:?}", tx.err());
        store.identity(Mode::Read).await.unwrap();
    }
    store.ping().await.unwrap();
}
