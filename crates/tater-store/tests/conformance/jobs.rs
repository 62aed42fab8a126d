//! Organization settings and the command channel's jobs, on both engines: defaults, round
//! trips, targets through their lifecycle, and another tenant seeing none of it.

use tater_domain::{
    AuditAction, Endpoint, Job, JobTarget, OrgId, RecordId, TargetStatus, Timestamp,
};
use tater_store::{AuditQuery, Mode, OrgSettings, Store, StoreError, TenantTx};
use tater_testkit::{TestDb, both_engines};

use crate::endpoints::{draft, endpoint, token};
use crate::support::*;

both_engines!(
    settings_default_off_and_round_trip,
    jobs_and_their_targets_through_their_lifecycle,
    job_pages_stop_at_their_bytes_newest_first
);

async fn settings_default_off_and_round_trip(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (_, sb) = new_org(&*store, "B").await;
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    assert!(
        !tx.settings().await.unwrap().remote_execution,
        "off until turned on"
    );
    tx.put_settings(
        &OrgSettings {
            remote_execution: true,
            ..Default::default()
        },
        Timestamp::from_millis(NOW),
        &draft(a, AuditAction::Update, "settings", a),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    assert!(tx.settings().await.unwrap().remote_execution);
    let audited = tx
        .list_audit(&AuditQuery {
            entity_type: Some("settings".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audited.len(), 1, "the change is audited");
    drop(tx);
    let mut other = store.tenant(&sb.permit(Mode::Read)).await.unwrap();
    assert!(
        !other.settings().await.unwrap().remote_execution,
        "another organization's switch is its own"
    );
}

/// An endpoint of `org` enrolled with a fresh token.
async fn enrolled(store: &dyn Store, scope: &Scope, hostname: &str, secret: &str) -> Endpoint {
    let e = endpoint(scope.org(), hostname, secret);
    enroll(store, scope, &e, secret).await;
    e
}

/// Enrolls `e` with a fresh token whose hash is made of `secret` (unique per call).
pub(crate) async fn enroll(store: &dyn Store, scope: &Scope, e: &Endpoint, secret: &str) {
    let org = scope.org();
    let t = token(org, secret, false);
    crate::endpoints::add_token(store, scope, &t).await;
    let mut itx = store.identity(Mode::Write).await.unwrap();
    itx.enroll_endpoint(
        &t,
        e,
        false,
        &draft(org, AuditAction::Create, "endpoint", e.id),
    )
    .await
    .unwrap();
    itx.commit().await.unwrap();
}

fn job(org: OrgId, at: i64) -> Job {
    Job {
        id: RecordId::generate(),
        org,
        name: "rotate logs".into(),
        script_id: None,
        script_version: None,
        check_id: Some("linux.auditd.active".into()),
        language: "bash".into(),
        run_as: "root".into(),
        timeout_secs: 60,
        content: "logrotate -f /etc/logrotate.conf".into(),
        created_by: "system:test".into(),
        created_at: Timestamp::from_millis(at),
    }
}

fn target<'a>(targets: &'a [JobTarget], hostname: &str) -> &'a JobTarget {
    targets.iter().find(|t| t.hostname == hostname).unwrap()
}

/// Ends the job's pending targets as `status`; how many it ended.
async fn end(
    tx: &mut dyn TenantTx,
    org: OrgId,
    job: RecordId,
    status: TargetStatus,
    reason: &str,
) -> u64 {
    let now = Timestamp::from_millis(NOW + 2_000);
    let audit = draft(org, AuditAction::Update, "job", job);
    tx.end_pending_targets(job, status, reason, now, &audit)
        .await
        .unwrap()
}

async fn jobs_and_their_targets_through_their_lifecycle(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    let (b, sb) = new_org(&*store, "B").await;
    let web = enrolled(&*store, &sa, "web-01", "a1").await;
    let dbh = enrolled(&*store, &sa, "db-01", "b2").await;
    let j = job(a, NOW);
    let targets = [
        JobTarget::pending(web.id, web.hostname.clone()),
        JobTarget::pending(dbh.id, dbh.hostname.clone()),
    ];
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    tx.insert_job(&j, &targets, &draft(a, AuditAction::Create, "job", j.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Stored as given; listed newest first; pending on both endpoints.
    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    let (stored, stored_targets) = tx.job(j.id).await.unwrap().unwrap();
    assert_eq!(stored, j);
    assert_eq!(stored_targets.len(), 2);
    assert!(
        stored_targets
            .iter()
            .all(|t| t.status == TargetStatus::Pending)
    );
    let (page, more) = tx.jobs(None, 10, 1024 * 1024).await.unwrap();
    assert_eq!((page.len(), more), (1, false));
    drop(tx);

    // Another organization sees no job, and the sweep knows only A has pending work.
    let mut other = store.tenant(&sb.permit(Mode::Read)).await.unwrap();
    assert!(other.job(j.id).await.unwrap().is_none());
    assert!(
        other
            .jobs(None, 10, 1024 * 1024)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    drop(other);
    let mut itx = store.identity(Mode::Read).await.unwrap();
    let with_pending = itx.orgs_with_pending_jobs().await.unwrap();
    assert!(with_pending.contains(&a) && !with_pending.contains(&b));
    drop(itx);

    // The web server's agent fetches its command once; it is then `sent`.
    let now = Timestamp::from_millis(NOW + 1_000);
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let taken = tx.take_commands(web.id, now, 10).await.unwrap();
    assert_eq!(taken.iter().map(|c| c.id).collect::<Vec<_>>(), [j.id]);
    assert!(tx.take_commands(web.id, now, 10).await.unwrap().is_empty());
    let outcome = JobTarget {
        status: TargetStatus::Succeeded,
        exit_code: Some(0),
        stdout: Some("rotated".into()),
        duration_ms: Some(120),
        finished_at: Some(now),
        ..JobTarget::pending(web.id, web.hostname.clone())
    };
    tx.finish_command(j.id, &outcome, &draft(a, AuditAction::Update, "job", j.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // An outcome counts once; a second report of it is a conflict naming the target's
    // status, and a job that never named the endpoint is not found.
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let again = tx
        .finish_command(j.id, &outcome, &draft(a, AuditAction::Update, "job", j.id))
        .await;
    assert!(
        matches!(&again, Err(StoreError::Conflict(why)) if why.contains("is succeeded")),
        "{again:?}"
    );
    let other = RecordId::generate();
    let unknown = tx
        .finish_command(
            other,
            &outcome,
            &draft(a, AuditAction::Update, "job", other),
        )
        .await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    drop(tx);

    // Cancelling ends only what is still pending: the database server's target.
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let pending = tx.pending_targets(Some(j.id), None, 10).await.unwrap();
    assert_eq!(pending, [(j.id, vec![dbh.hostname.clone()])]);
    let ended = end(
        &mut *tx,
        a,
        j.id,
        TargetStatus::Cancelled,
        "cancelled by an Admin",
    )
    .await;
    assert_eq!(ended, 1);
    tx.commit().await.unwrap();

    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    let (_, after) = tx.job(j.id).await.unwrap().unwrap();
    let (web_target, cancelled) = (target(&after, "web-01"), target(&after, "db-01"));
    assert_eq!(web_target.status, TargetStatus::Succeeded);
    assert_eq!(web_target.stdout.as_deref(), Some("rotated"));
    assert_eq!(cancelled.status, TargetStatus::Cancelled);
    assert_eq!(cancelled.reason.as_deref(), Some("cancelled by an Admin"));
    let nothing = end(&mut *tx, a, j.id, TargetStatus::Expired, "too old").await;
    assert_eq!(nothing, 0, "nothing pending is left to end");
    assert!(tx.pending_targets(None, None, 10).await.unwrap().is_empty());
    drop(tx);
    let mut itx = store.identity(Mode::Read).await.unwrap();
    assert!(!itx.orgs_with_pending_jobs().await.unwrap().contains(&a));
}

/// Jobs with large scripts every third: pages of at most 30 kB (or one job) walk every job
/// once, newest first, each with its targets.
async fn job_pages_stop_at_their_bytes_newest_first(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "Pages").await;
    let web = enrolled(&*store, &sa, "web-01", "p1").await;
    let mut made = Vec::new();
    let mut tx = store.tenant(&sa.permit(Mode::Write)).await.unwrap();
    for n in 0..10 {
        let mut j = job(a, NOW + n);
        if n % 3 == 0 {
            j.content = "x".repeat(20_000);
        }
        let targets = [JobTarget::pending(web.id, web.hostname.clone())];
        tx.insert_job(&j, &targets, &draft(a, AuditAction::Create, "job", j.id))
            .await
            .unwrap();
        made.push(j.id);
    }
    tx.commit().await.unwrap();
    made.reverse();

    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    let (mut seen, mut pages, mut before) = (Vec::new(), 0, None);
    loop {
        let (page, more) = tx.jobs(before, 50, 30_000).await.unwrap();
        assert!(!page.is_empty());
        let bytes: usize = page.iter().map(|(j, _)| j.content.len()).sum();
        assert!(
            page.len() == 1 || bytes <= 30_000,
            "{} jobs, {bytes} bytes",
            page.len()
        );
        assert!(page.iter().all(|(_, targets)| targets.len() == 1));
        pages += 1;
        seen.extend(page.iter().map(|(j, _)| j.id));
        let (last, _) = page.last().unwrap();
        before = Some((last.created_at, last.id));
        if !more {
            break;
        }
    }
    assert_eq!(seen, made, "every job once, newest first");
    assert!(pages >= 4, "the 20 kB scripts split the pages: {pages}");
    // The row limit under a large budget; exactly the rows there are leaves none.
    let (page, more) = tx.jobs(None, 4, u64::MAX).await.unwrap();
    assert_eq!((page.len(), more), (4, true));
    let (page, more) = tx.jobs(None, 10, u64::MAX).await.unwrap();
    assert_eq!((page.len(), more), (10, false));
}
