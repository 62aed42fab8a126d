//! A full scan of this machine: wall time and peak memory of `tater-agent scan`, the binary's
//! size, and — where Debian's `lynis` and `openscap-scanner` are installed — their audits
//! timed on the same machine in the same run.
//!
//! Run: `cargo bench -p tater-agent --bench scan` (after `./scripts/build-agent` the static
//! binary's size is reported too).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command under /usr/bin/time (when present) and returns wall time and peak RSS (KiB).
fn measure(program: &str, args: &[&str]) -> (Duration, Option<u64>) {
    let timed = Path::new("/usr/bin/time").exists();
    let report = std::env::temp_dir().join(format!("tater-bench-time-{}", std::process::id()));
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&report)
            .arg(program)
            .args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    };
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{program}: {e}"));
    let took = started.elapsed();
    let _ = out;
    let rss = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| t.lines().last()?.trim().parse().ok());
    let _ = std::fs::remove_file(&report);
    (took, rss)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let agent = env!("CARGO_BIN_EXE_tater-agent");
    let _ = measure(agent, &["scan", "--format", "json"]); // warm the page cache
    let runs: Vec<(Duration, Option<u64>)> = (0..5)
        .map(|_| measure(agent, &["scan", "--format", "json"]))
        .collect();
    let wall = median(runs.iter().map(|r| r.0).collect());
    let rss = runs.iter().filter_map(|r| r.1).max();
    let static_bin = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/agent-static/x86_64-unknown-linux-gnu/release/tater-agent"
    ));
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len() as f64 / 1024.0 / 1024.0)
            .ok()
    };
    println!("## tater-agent scan of this machine (median of 5, after one warm-up)");
    println!("| tool | wall time | peak RSS | × tater-agent |");
    println!("|---|---|---|---|");
    let kib = |r: Option<u64>| r.map_or("—".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "| tater-agent scan (85 checks) | {:.2} s | {} | 1.0 |",
        wall.as_secs_f64(),
        kib(rss)
    );
    if Path::new("/usr/sbin/lynis").exists() {
        let (t, r) = measure(
            "/usr/sbin/lynis",
            &[
                "audit",
                "system",
                "--quick",
                "--no-colors",
                "--no-log",
                "--quiet",
            ],
        );
        println!(
            "| lynis audit system --quick | {:.2} s | {} | {:.1} |",
            t.as_secs_f64(),
            kib(r),
            t.as_secs_f64() / wall.as_secs_f64()
        );
    } else {
        println!("| lynis | not installed (apt-get install lynis) | | |");
    }
    let ds = ["debian12", "debian11"]
        .iter()
        .map(|v| format!("/usr/share/xml/scap/ssg/content/ssg-{v}-ds.xml"))
        .find(|p| Path::new(p).exists());
    match (Path::new("/usr/bin/oscap").exists(), ds) {
        (true, Some(ds)) => {
            let (t, r) = measure(
                "/usr/bin/oscap",
                &[
                    "xccdf",
                    "eval",
                    "--profile",
                    "xccdf_org.ssgproject.content_profile_standard",
                    &ds,
                ],
            );
            println!(
                "| oscap xccdf eval, standard profile of {} | {:.2} s | {} | {:.1} |",
                Path::new(&ds).file_name().unwrap().to_string_lossy(),
                t.as_secs_f64(),
                kib(r),
                t.as_secs_f64() / wall.as_secs_f64()
            );
        }
        _ => {
            println!("| oscap | not installed (apt-get install openscap-scanner ssg-debian) | | |")
        }
    }
    println!();
    match size(static_bin) {
        Some(mb) => println!("static binary (./scripts/build-agent): {mb:.1} MiB"),
        None => println!(
            "static binary: run ./scripts/build-agent first; this release build is {:.1} MiB",
            size(Path::new(agent)).unwrap_or(0.0)
        ),
    }
}
