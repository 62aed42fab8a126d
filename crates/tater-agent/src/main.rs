//! `tater-agent`: the endpoint agent's command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tater_agent::{CheckResult, Status, root::Root, run};
use tater_checks::CheckCatalog;

#[derive(Debug, Parser)]
#[command(
    name = "tater-agent",
    version,
    about = "Tater endpoint agent: audits this machine (or a mounted root) against security checks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the checks now, without a server; exits 1 if any check failed, 2 on errors only.
    Scan {
        /// Audit this directory as the root filesystem (a mounted image or container root).
        #[arg(long, default_value = "/")]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Only these check ids (repeatable).
        #[arg(long = "only")]
        only: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan { root, format, only } => scan(&root, format, &only),
    }
}

fn scan(root: &std::path::Path, format: Format, only: &[String]) -> ExitCode {
    if !root.is_dir() {
        eprintln!("error: {} is not a directory", root.display());
        return ExitCode::from(3);
    }
    let catalog = match CheckCatalog::builtin() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    let unknown: Vec<&String> = only.iter().filter(|id| catalog.get(id).is_none()).collect();
    if !unknown.is_empty() {
        eprintln!(
            "error: unknown check ids: {}",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return ExitCode::from(3);
    }
    let checks: Vec<_> = catalog
        .checks()
        .iter()
        .filter(|c| only.is_empty() || only.contains(&c.id))
        .cloned()
        .collect();
    let results = run(&checks, &Root::new(root));
    let written = match format {
        Format::Json => serde_json::to_string_pretty(&results)
            .map(|s| println!("{s}"))
            .is_ok(),
        Format::Table => {
            print!("{}", table(&results, std::io::stdout().is_terminal()));
            true
        }
    };
    if !written {
        return ExitCode::from(3);
    }
    if results.iter().any(|r| r.status == Status::Fail) {
        ExitCode::from(1)
    } else if results.iter().any(|r| r.status == Status::Error) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// A readable table: status, severity, id and title, then the evidence indented; totals last.
fn table(results: &[CheckResult], colour: bool) -> String {
    let paint = |s: Status| {
        let text = format!("{:<14}", s.as_str());
        if !colour {
            return text;
        }
        let code = match s {
            Status::Pass => "32",
            Status::Fail => "31",
            Status::Error => "35",
            _ => "33",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    };
    let mut out = String::new();
    for r in results {
        out.push_str(&format!(
            "{} {:<8} {:<38} {}\n",
            paint(r.status),
            r.severity.as_str(),
            r.check_id,
            r.title
        ));
        if r.status != Status::Pass {
            out.push_str(&format!("{:>16}{}\n", "", r.evidence));
        }
    }
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    out.push_str(&format!(
        "\n{} checks: {} pass, {} fail, {} not applicable, {} error\n",
        results.len(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::NotApplicable),
        count(Status::Error)
    ));
    out
}
