//! Federal artifacts, measured (issue 7): the POA&M of 10,000 items with 3 milestones each as
//! the eMASS workbook, as OSCAL JSON and as CSV, and the full MODERATE SSP (every control
//! tailored) as OSCAL JSON and as Word — each through the service's export use case, from the
//! database to the finished bytes. Wall time is the median of three runs; peak memory is the
//! most the heap grew during an export (a counting global allocator, reset before each), so it
//! includes the items read from the database and the finished output.
//!
//! Run: `cargo bench -p tater-server --bench federal` (SQLite; with `TATER_TEST_POSTGRES_URL`
//! also PostgreSQL). `TATER_BENCH_POAM` sets the number of items (default 10,000).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark, not a service

use std::time::{Duration, Instant};

use serde_json::json;
use tater_domain::modules::POAM;
use tater_domain::{Actor, Channel};
use tater_export::emass::Layout;
use tater_server::{App, AppConfig};
use tater_service::{Service, SystemOperator};
use tater_testkit::{Engine, TestDb};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts every heap allocation of this process, so each export's own peak can be read.
#[global_allocator]
static HEAP: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

/// Runs `f` three times; (median wall time, peak heap growth in MiB, output bytes).
async fn measure<F, Fut>(mut f: F) -> (Duration, f64, usize)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let mut times = Vec::new();
    let mut peak = 0.0f64;
    let mut size = 0;
    for _ in 0..3 {
        HEAP.reset_peak_usage();
        let before = HEAP.current_usage();
        let started = Instant::now();
        size = f().await;
        times.push(started.elapsed());
        let grew = HEAP.peak_usage().saturating_sub(before);
        peak = peak.max(grew as f64 / (1024.0 * 1024.0));
    }
    times.sort();
    (times[1], peak, size)
}

async fn seed(service: &Service, actor: &Actor, items: usize) {
    for i in 0..items {
        let milestones: Vec<_> = (0..3)
            .map(|m| json!({ "description": format!("Milestone {m} of item {i}: order, test and deploy the fix"), "status": if m == 0 { "Completed" } else { "Open" }, "scheduledCompletion": format!("2027-0{}-15", m + 1), "completionDate": if m == 0 { json!("2027-01-10") } else { json!(null) } }))
            .collect();
        service
            .create_record(
                actor,
                &POAM,
                &json!({
                    "title": format!("Weakness {i}: outdated OpenSSL on the web tier"),
                    "weaknessDescription": "The web tier runs an OpenSSL release past its end of life; several CVEs apply. ".repeat(3),
                    "impact": (["High", "Moderate", "Low"][i % 3]),
                    "status": (["Open", "In Progress", "Completed", "Risk Accepted"][i % 4]),
                    "completionDate": if i % 4 == 2 { json!("2027-03-01") } else { json!(null) },
                    "scheduledCompletion": "2027-03-31",
                    "controls": ["si-2", "ra-5"],
                    "source": "ACAS scan 2026-11",
                    "asset": format!("web-{:03}", i % 200),
                    "pointOfContact": "Sam Lee, 555-0101, sam@example.gov",
                    "resourcesRequired": "8 hours of engineering",
                    "justification": if i % 4 == 3 { json!("Compensated by network isolation.") } else { json!(null) },
                    "milestones": milestones,
                }),
            )
            .await
            .unwrap();
    }
}

async fn tailor_moderate(service: &Service, actor: &Actor) -> usize {
    let catalog = tater_catalog::Catalog::builtin().unwrap();
    let controls = catalog
        .framework("nist-800-53-rev5-moderate")
        .unwrap()
        .controls
        .clone();
    for (i, id) in controls.iter().enumerate() {
        let body = json!({
            "implementationStatus": (["implemented", "partial", "planned"][i % 3]),
            "narrative": format!("{id}: ").to_owned() + &"The organization implements this control through centrally managed configuration, monitored by the Tater agent and reviewed monthly by the ISSO. ".repeat(4),
            "responsibleRoles": ["ISSO", "System Administrator"],
        });
        service.put_overlay(actor, id, &body).await.unwrap();
    }
    controls.len()
}

async fn bench(engine: Engine, items: usize) {
    let db = match engine {
        Engine::Sqlite => TestDb::sqlite(),
        Engine::Postgres => match TestDb::postgres().await {
            Some(db) => db,
            None => {
                println!("PostgreSQL: skipped (TATER_TEST_POSTGRES_URL is not set)\n");
                return;
            }
        },
    };
    let app = App::build(AppConfig::for_tests(&db.url)).await.unwrap();
    let service = app.service.clone();
    let op = SystemOperator {
        name: "bench",
        detail: "bench".into(),
    };
    let org = service
        .admin_create_org(&op, "Bench", None)
        .await
        .unwrap()
        .id;
    let actor = Actor::system("bench", "bench", org, Channel::Api);
    service
        .put_system_profile(&actor, &json!({ "name": "Bench System", "abbreviation": "BS", "issoName": "Pat Doe", "baseline": "nist-800-53-rev5-moderate" }))
        .await
        .unwrap();
    let started = Instant::now();
    seed(&service, &actor, items).await;
    let seeded = started.elapsed();
    let controls = tailor_moderate(&service, &actor).await;
    println!(
        "{engine:?}: {items} POA&M items with 3 milestones each seeded in {:.1} s; {controls} MODERATE controls tailored\n",
        seeded.as_secs_f64()
    );

    println!("| {engine:?} export | wall time (median of 3) | peak heap growth | output |");
    println!("|---|---|---|---|");
    let query = || service.list_query(&POAM, &[], &[]).unwrap();
    let rows: Vec<(&str, (Duration, f64, usize))> = vec![
        (
            "POA&M → eMASS .xlsx (navy)",
            measure(|| async {
                service
                    .poam_emass(&actor, query(), Layout::Navy)
                    .await
                    .unwrap()
                    .len()
            })
            .await,
        ),
        (
            "POA&M → OSCAL JSON",
            measure(|| async { service.poam_oscal(&actor, query()).await.unwrap().len() }).await,
        ),
        (
            "POA&M → CSV (pages of 500)",
            measure(|| async {
                let mut export = service.export_records(&actor, &POAM, query()).unwrap();
                let csv = tater_export::CsvExport::new(&POAM);
                let mut n = csv.header().len();
                while let Some(page) = export.next_page().await.unwrap() {
                    n += csv.rows(&page).len();
                }
                n
            })
            .await,
        ),
        (
            "SSP (MODERATE) → OSCAL JSON",
            measure(|| async {
                let doc = service.ssp_oscal(&actor).await.unwrap();
                serde_json::to_vec(&doc).unwrap().len()
            })
            .await,
        ),
        (
            "SSP (MODERATE) → Word .docx",
            measure(|| async { service.ssp_docx(&actor).await.unwrap().len() }).await,
        ),
    ];
    for (name, (time, peak, size)) in rows {
        println!(
            "| {name} | {:.3} s | {peak:.1} MiB | {:.2} MiB |",
            time.as_secs_f64(),
            size as f64 / (1024.0 * 1024.0)
        );
    }
    println!();
}

#[tokio::main]
async fn main() {
    let items = env_or("TATER_BENCH_POAM", 10_000);
    for engine in [Engine::Sqlite, Engine::Postgres] {
        bench(engine, items).await;
    }
}
