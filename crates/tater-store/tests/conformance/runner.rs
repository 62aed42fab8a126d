//! The background runner's jobs on both engines: a key is queued once, a lease keeps a second
//! runner off until it runs out or is given back, failures wait for their retry time, a job
//! given up is kept with its error, and a job goes with its organization.

use serde_json::json;
use tater_domain::Timestamp;
use tater_store::{NewRunnerJob, RunnerJob, Store};
use tater_testkit::{TestDb, both_engines};

use crate::support::*;

both_engines!(
    a_key_is_queued_once_and_a_lease_keeps_others_off,
    failures_retry_later_and_give_up_with_their_error
);

const LEASE_MS: i64 = 60_000;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(NOW + ms)
}

fn job(key: &str, org: Option<tater_domain::OrgId>, run_at: i64) -> NewRunnerJob {
    NewRunnerJob {
        org,
        kind: "test".into(),
        idempotency_key: key.into(),
        payload: json!({ "key": key }),
        run_at: at(run_at),
    }
}

async fn enqueue(store: &dyn Store, job: &NewRunnerJob) -> bool {
    let mut tx = store.runner().await.unwrap();
    let new = tx.enqueue(job, at(0)).await.unwrap();
    tx.commit().await.unwrap();
    new
}

async fn claim_jobs(store: &dyn Store, owner: &str, now: i64) -> Vec<RunnerJob> {
    let mut tx = store.runner().await.unwrap();
    let mut jobs = tx.claim(owner, at(now), LEASE_MS, 10).await.unwrap();
    tx.commit().await.unwrap();
    jobs.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    jobs
}

async fn claim(store: &dyn Store, owner: &str, now: i64) -> Vec<String> {
    let jobs = claim_jobs(store, owner, now).await;
    jobs.into_iter().map(|j| j.idempotency_key).collect()
}

async fn finish(store: &dyn Store, id: &str, owner: &str) -> bool {
    let mut tx = store.runner().await.unwrap();
    let finished = tx.finish(id, owner, at(0)).await.unwrap();
    tx.commit().await.unwrap();
    finished
}

async fn state(store: &dyn Store, key: &str) -> (String, i64, Option<String>) {
    let mut tx = store.runner().await.unwrap();
    let s = tx.job_state(key).await.unwrap().unwrap();
    (s.state, s.attempts, s.last_error)
}

async fn a_key_is_queued_once_and_a_lease_keeps_others_off(db: TestDb) {
    let store = open(&db).await;
    let (org, _) = new_org(&*store, "runner").await;
    assert!(enqueue(&*store, &job("a", Some(org), 0)).await);
    assert!(
        !enqueue(&*store, &job("a", Some(org), 0)).await,
        "the same key again is not queued"
    );
    assert!(enqueue(&*store, &job("later", None, 5_000)).await);

    let first = claim_jobs(&*store, "one", 0).await;
    assert_eq!(first.len(), 1, "only what is due");
    assert_eq!(first[0].org, Some(org));
    assert!(claim(&*store, "two", 1_000).await.is_empty(), "leased");
    assert_eq!(
        claim(&*store, "two", 5_000).await,
        ["later"],
        "the next is due"
    );
    // Runner "one" dies: its lease runs out and "two" takes the job over.
    assert_eq!(claim(&*store, "two", LEASE_MS + 1).await, ["a"]);
    assert!(
        !finish(&*store, &first[0].id, "one").await,
        "the lease is no longer the first runner's"
    );
    assert_eq!(state(&*store, "a").await.1, 2, "two attempts counted");
    // A running job's lease is renewed only by its holder, and never shortened.
    let lease_of = async |key: &str| {
        let mut tx = store.runner().await.unwrap();
        tx.job_state(key).await.unwrap().unwrap().lease_until
    };
    let taken_over_until = at(LEASE_MS + 1 + LEASE_MS);
    assert_eq!(lease_of("a").await, Some(taken_over_until));
    let mut tx = store.runner().await.unwrap();
    assert!(
        !tx.renew(&first[0].id, "one", at(10 * LEASE_MS))
            .await
            .unwrap(),
        "no longer the first runner's to renew"
    );
    assert!(tx.renew(&first[0].id, "two", at(0)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(lease_of("a").await, Some(taken_over_until), "not shortened");
    let mut tx = store.runner().await.unwrap();
    assert!(
        tx.renew(&first[0].id, "two", at(3 * LEASE_MS))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(lease_of("a").await, Some(at(3 * LEASE_MS)));

    // A clean stop gives the leases back at once, without counting the attempt.
    let mut tx = store.runner().await.unwrap();
    assert_eq!(tx.release_all("two").await.unwrap(), 2);
    tx.commit().await.unwrap();
    let jobs = claim_jobs(&*store, "three", LEASE_MS + 2).await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(state(&*store, "a").await.1, 2);
    for job in &jobs {
        assert!(finish(&*store, &job.id, "three").await);
    }
    assert_eq!(state(&*store, "a").await.0, "done");
    assert!(
        claim(&*store, "four", 10 * LEASE_MS).await.is_empty(),
        "done is done"
    );
    assert!(
        !enqueue(&*store, &job("a", Some(org), 0)).await,
        "a done job keeps its key"
    );
    // Until it is pruned: then the key is free again.
    let mut tx = store.runner().await.unwrap();
    assert_eq!(tx.prune_done("other", at(10 * LEASE_MS)).await.unwrap(), 0);
    assert_eq!(
        tx.prune_done("test", at(0)).await.unwrap(),
        0,
        "finished later"
    );
    assert_eq!(tx.prune_done("test", at(10 * LEASE_MS)).await.unwrap(), 2);
    tx.commit().await.unwrap();
    assert!(enqueue(&*store, &job("a", Some(org), 0)).await);
}

async fn failures_retry_later_and_give_up_with_their_error(db: TestDb) {
    let store = open(&db).await;
    enqueue(&*store, &job("flaky", None, 0)).await;
    let mut tx = store.runner().await.unwrap();
    let jobs = tx.claim("one", at(0), LEASE_MS, 10).await.unwrap();
    assert_eq!(jobs[0].payload, json!({ "key": "flaky" }));
    assert_eq!(jobs[0].attempts, 1);
    tx.fail(&jobs[0].id, "one", "relay down", at(0), Some(at(30_000)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        state(&*store, "flaky").await,
        ("queued".into(), 1, Some("relay down".into()))
    );
    assert!(claim(&*store, "one", 29_999).await.is_empty(), "not yet");
    let mut tx = store.runner().await.unwrap();
    let jobs = tx.claim("one", at(30_000), LEASE_MS, 10).await.unwrap();
    assert_eq!(jobs[0].attempts, 2);
    tx.fail(&jobs[0].id, "one", "refused for good", at(30_000), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        state(&*store, "flaky").await,
        ("failed".into(), 2, Some("refused for good".into()))
    );
    assert!(claim(&*store, "one", 10 * LEASE_MS).await.is_empty());
}
