//! A caller that gives up while a transaction is being opened (a client that disconnects, a
//! timeout, an aborted background task) must not leave a connection behind inside that
//! transaction: on SQLite such a connection kept the write lock and refused every later
//! write it was given ("begin_with at non-zero transaction depth") until the server restarted.

use std::future::Future;
use std::task::Poll;

use tater_store::{Mode, StoreError};
use tater_testkit::{TestDb, both_engines};

use crate::endpoints::{add_token, token};
use crate::support::*;

both_engines!(transactions_abandoned_while_opening_leave_nothing_behind);

/// Polls `fut` up to `times` times and drops it if still pending. Between polls it yields
/// (`pause` false) or sleeps a moment (`pause` true), so that the database's side has, or
/// has not yet, answered the step the future waits on.
async fn give_up_after<F: Future>(fut: F, times: usize, pause: bool) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..times {
        let polled = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
        if let Poll::Ready(out) = polled {
            return Some(out);
        }
        if pause {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    None
}

async fn transactions_abandoned_while_opening_leave_nothing_behind(db: TestDb) {
    let store = open(&db).await;
    let (a, sa) = new_org(&*store, "A").await;
    // Every kind of transaction, abandoned at every early await point, many times over.
    // A transaction that does open (the caller waited long enough) must open cleanly: a
    // connection left inside an abandoned one fails it.
    fn opened<T>(round: usize, r: Option<Result<T, StoreError>>) {
        if let Some(Err(e)) = r {
            panic!("round {round}: a transaction failed to open: {e}");
        }
    }
    for round in 0..144 {
        let (times, pause) = (1 + round % 6, round % 12 >= 6);
        match round % 3 {
            0 => opened(
                round,
                give_up_after(store.tenant(&sa.permit(Mode::Write)), times, pause).await,
            ),
            1 => opened(
                round,
                give_up_after(store.tenant(&sa.permit(Mode::Read)), times, pause).await,
            ),
            _ => opened(
                round,
                give_up_after(store.identity(Mode::Write), times, pause).await,
            ),
        }
    }
    // Then every connection of the pool still writes: more writers at once than it holds.
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..12 {
        let store = store.clone();
        writers.spawn(async move {
            for i in 0..3 {
                add_token(&*store, &sa, &token(a, &format!("{w:x}{i:x}"), false)).await;
                new_org(&*store, &format!("later {w}-{i}")).await;
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let mut tx = store.tenant(&sa.permit(Mode::Read)).await.unwrap();
    assert_eq!(tx.enrollment_tokens().await.unwrap().len(), 36);
}
