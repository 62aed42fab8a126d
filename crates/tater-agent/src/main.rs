//! `tater-agent`: the endpoint agent's command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use std::time::{Duration, Instant};

use tater_agent::config::AgentConfig;
use tater_agent::report::{ScanReport, now_millis, now_rfc3339};
use tater_agent::sealed::ConfigKey;
use tater_agent::spool::Spool;
use tater_agent::{CheckResult, Status, client, facts, os, root::Root, run, update};
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
        /// Audit this directory as the root filesystem (a mounted image or container root;
        /// default: this system's, / or C:\).
        #[arg(long, default_value_os_t = os::default_root())]
        root: PathBuf,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Only these check ids (repeatable).
        #[arg(long = "only")]
        only: Vec<String>,
    },
    /// Print the CycloneDX 1.5 SBOM of this binary's dependency tree, as built.
    Sbom,
    /// Update this binary to the server's newest release after verifying its size, SHA-256
    /// and (with a release public key) Ed25519 signature; the old binary is kept as
    /// `<binary>.previous`. `--check` only says whether an update is available.
    Update {
        #[arg(long)]
        check: bool,
        /// The server (default: the one in the configuration).
        #[arg(long)]
        server: Option<String>,
        #[arg(long, default_value_os_t = os::default_config_path())]
        config: PathBuf,
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Base64 Ed25519 release public key (overrides the configured and built-in ones).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Enroll this machine with a server using an enrollment token; writes the configuration
    /// (readable by this account only).
    Enroll {
        #[arg(long)]
        server: String,
        #[arg(long, env = "TATER_ENROLL_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long, default_value_os_t = os::default_config_path())]
        config: PathBuf,
        /// Where reports wait for the server (default /var/lib/tater-agent/spool;
        /// %ProgramData%\Tater\Agent\spool on Windows).
        #[arg(long)]
        spool_dir: Option<String>,
        /// Encrypt the configuration with the key in this file (created 0400 if missing).
        #[arg(long, conflicts_with = "protect")]
        key_file: Option<PathBuf>,
        /// Windows: encrypt the configuration with DPAPI, for this account (`user`, the
        /// default) or for this machine (`machine`, for a service running as LocalSystem).
        #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "user")]
        protect: Option<Scope>,
        #[arg(long, default_value_os_t = os::default_root())]
        root: PathBuf,
    },
    /// Windows: install, remove or (as the service manager does) run the Tater Agent service.
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// The daemon: scan at start and on the configured schedule, deliver spooled reports with
    /// backoff, send heartbeats. `--once`: scan, deliver, exit (1 if reports stay spooled).
    Run {
        #[arg(long, default_value_os_t = os::default_config_path())]
        config: PathBuf,
        #[arg(long, default_value_os_t = os::default_root())]
        root: PathBuf,
        #[arg(long)]
        once: bool,
        /// With --once: deliver what is spooled without scanning.
        #[arg(long, requires = "once")]
        no_scan: bool,
        /// The key of an encrypted configuration (else the systemd credential).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ServiceAction {
    /// Register the service (automatic start, LocalSystem, restarted on failure and after an
    /// update) to run `service run --config PATH`.
    Install {
        #[arg(long, default_value_os_t = os::default_config_path())]
        config: PathBuf,
    },
    /// Stop and remove the service.
    Uninstall,
    /// What the service control manager starts (not for use by hand).
    #[command(hide = true)]
    Run {
        #[arg(long, default_value_os_t = os::default_config_path())]
        config: PathBuf,
        #[arg(long, default_value_os_t = os::default_root())]
        root: PathBuf,
    },
}

#[cfg(windows)]
fn service(action: ServiceAction) -> ExitCode {
    use tater_agent::service;
    let done = match action {
        ServiceAction::Install { config } => service::install(&config).map(|()| {
            println!(
                "installed the {} service (automatic start); start it with `sc start {}`",
                service::NAME,
                service::NAME
            )
        }),
        ServiceAction::Uninstall => {
            service::uninstall().map(|()| println!("removed the {} service", service::NAME))
        }
        ServiceAction::Run { config, root } => service::run(Box::new(move |stop| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let options = DaemonOptions {
                once: false,
                no_scan: false,
                service: true,
            };
            let stop = async {
                let _ = stop.await;
            };
            rt.block_on(daemon(&config, &root, None, options, stop))
                .map(|end| end.restart)
        })),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

#[cfg(not(windows))]
fn service(_action: ServiceAction) -> ExitCode {
    eprintln!(
        "error: the service mode is Windows's; on Linux install crates/tater-agent/dist/tater-agent.service (systemd)"
    );
    ExitCode::from(3)
}

/// Whose DPAPI key protects the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scope {
    User,
    Machine,
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
        Command::Enroll {
            server,
            token,
            config,
            spool_dir,
            key_file,
            protect,
            root,
        } => block_on(enroll(
            &server,
            &token,
            &config,
            spool_dir,
            &root,
            key_file.as_deref(),
            protect,
        )),
        Command::Run {
            config,
            root,
            once,
            no_scan,
            key_file,
        } => block_on(async move {
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            let options = DaemonOptions {
                once,
                no_scan,
                service: false,
            };
            daemon(&config, &root, key_file.as_deref(), options, stop)
                .await
                .map(|end| end.code)
        }),
        Command::Service { action } => service(action),
        Command::Sbom => sbom(),
        Command::Update {
            check,
            server,
            config,
            key_file,
            public_key,
        } => block_on(self_update(
            check,
            server,
            &config,
            key_file.as_deref(),
            public_key,
        )),
    }
}

fn block_on(f: impl std::future::Future<Output = Result<ExitCode, String>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(3);
        }
    };
    match rt.block_on(f) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
    }
}

async fn enroll(
    server: &str,
    token: &str,
    path: &std::path::Path,
    spool: Option<String>,
    root: &std::path::Path,
    key_file: Option<&std::path::Path>,
    protect: Option<Scope>,
) -> Result<ExitCode, String> {
    // The key first: a bad key file (or no DPAPI) should not cost an enrollment token.
    let key = key_file.map(ConfigKey::load_or_create).transpose()?;
    if protect.is_some() {
        tater_agent::sealed::dpapi_seal("{}", protect == Some(Scope::Machine))?;
    }
    let facts = facts::gather(&Root::new(root));
    // Enrolling again from a machine that is already enrolled with this server: its current
    // credential proves it is the same machine, so the server lets it keep its endpoint.
    let current = AgentConfig::load_with(path, key.as_ref())
        .ok()
        .filter(|c| c.server.trim_end_matches('/') == server.trim_end_matches('/'))
        .map(|c| c.api_key);
    let (endpoint_id, api_key) = client::enroll(server, token, &facts, current.as_deref()).await?;
    let config = AgentConfig::new(server, endpoint_id.clone(), api_key, spool);
    match protect {
        Some(scope) => config.save_protected(path, scope == Scope::Machine)?,
        None => config.save_with(path, key.as_ref())?,
    }
    println!(
        "enrolled {} as endpoint {endpoint_id}; configuration in {}",
        facts.hostname,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Scans and spools one report.
fn scan_and_spool(root: &std::path::Path, spool: &Spool) -> Result<(), String> {
    let catalog = CheckCatalog::builtin().map_err(|e| e.to_string())?;
    let started = now_rfc3339();
    let results = run(catalog.checks(), &Root::new(root));
    let report = ScanReport::new(started, &results);
    let body = serde_json::to_vec(&report).map_err(|e| e.to_string())?;
    let stamp = now_millis();
    spool.add(&format!("{stamp:014}-{}", report.scan_id), &body)?;
    Ok(())
}

/// Delivers spooled reports oldest first; stops at the first that must wait.
async fn flush(
    http: &reqwest::Client,
    config: &AgentConfig,
    spool: &Spool,
) -> Result<usize, String> {
    let mut sent = 0;
    for path in spool.pending() {
        let body = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        match client::report(http, config, body).await {
            client::Delivery::Accepted => {
                spool.done(&path)?;
                sent += 1;
            }
            client::Delivery::Rejected(why) => {
                eprintln!(
                    "the server refused {} for good, kept in rejected/: {why}",
                    path.display()
                );
                spool.reject(&path, &why)?;
            }
            client::Delivery::Retry(why) => return Err(why),
        }
    }
    Ok(sent)
}

const HEARTBEAT_EVERY: Duration = Duration::from_secs(300);
const POLL_COMMANDS_EVERY: Duration = Duration::from_secs(30);
const UPDATE_CHECK_EVERY: Duration = Duration::from_secs(6 * 3600);

/// The daemon's periodic update: verified like `tater-agent update`. Says whether a new binary
/// is in place (then the daemon restarts into it).
async fn auto_update(http: &reqwest::Client, config: &AgentConfig) -> bool {
    let key = match config
        .release_public_key
        .as_deref()
        .or(update::BUILT_IN_KEY)
        .map(update::parse_public_key)
        .transpose()
    {
        Ok(k) => k,
        Err(e) => {
            eprintln!("update check skipped: {e}");
            return false;
        }
    };
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    match update::update(http, &config.server, &exe, key.as_ref(), false).await {
        Ok(update::Outcome::Updated { version, .. }) => {
            eprintln!("updated to tater-agent {version}; restarting into it");
            true
        }
        Ok(_) => false,
        Err(e) => {
            eprintln!("update check: {e}");
            false
        }
    }
}

/// How the daemon runs.
#[derive(Debug, Clone, Copy)]
struct DaemonOptions {
    /// Scan, deliver and exit.
    once: bool,
    /// With `once`: deliver what is spooled without scanning.
    no_scan: bool,
    /// Under the Windows service manager (which restarts it after an update).
    service: bool,
}

/// How the daemon ended.
struct DaemonEnd {
    code: ExitCode,
    /// A new binary is in place and the service manager should start it.
    #[cfg_attr(not(windows), allow(dead_code))] // only the Windows service reads it
    restart: bool,
}

/// Fetches this endpoint's commands, runs each (if the configuration allows remote
/// scripts; otherwise each is refused) and reports the outcomes.
async fn run_commands(http: &reqwest::Client, config: &AgentConfig) -> Result<usize, String> {
    let commands = client::commands(http, config).await?;
    for c in &commands {
        let Some(cmd) = tater_agent::exec::Command::from_json(c) else {
            eprintln!("ignoring a malformed command: {c}");
            continue;
        };
        let outcome = tater_agent::exec::run(&cmd, config.allow_remote_scripts).await;
        client::command_result(http, config, &cmd.job_id, &outcome).await?;
    }
    Ok(commands.len())
}
const MAX_BACKOFF: Duration = Duration::from_secs(900);

async fn daemon(
    path: &std::path::Path,
    root: &std::path::Path,
    key_file: Option<&std::path::Path>,
    options: DaemonOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<DaemonEnd, String> {
    let DaemonOptions {
        once,
        no_scan,
        service,
    } = options;
    let end = |code| DaemonEnd {
        code,
        restart: false,
    };
    tokio::pin!(stop);
    let key = key_file.map(ConfigKey::load_or_create).transpose()?;
    let config = AgentConfig::load_with(path, key.as_ref())?;
    let spool = Spool::open(std::path::Path::new(&config.spool_dir))?;
    let http = client::http()?;
    let interval = Duration::from_secs(config.scan_interval_secs.max(60));
    let mut next_scan = Instant::now();
    let mut backoff = Duration::from_secs(5);
    let mut last_heartbeat: Option<Instant> = None;
    let mut last_poll: Option<Instant> = None;
    let mut last_update_check = Instant::now();
    loop {
        if !no_scan && Instant::now() >= next_scan {
            scan_and_spool(root, &spool)?;
            next_scan = Instant::now() + interval;
        }
        let flushed = flush(&http, &config, &spool).await;
        if once || last_poll.is_none_or(|t| t.elapsed() >= POLL_COMMANDS_EVERY) {
            if let Err(e) = run_commands(&http, &config).await {
                eprintln!("commands: {e}");
            }
            last_poll = Some(Instant::now());
        }
        if !once && last_update_check.elapsed() >= UPDATE_CHECK_EVERY {
            last_update_check = Instant::now();
            if auto_update(&http, &config).await {
                if service {
                    return Ok(DaemonEnd {
                        code: ExitCode::SUCCESS,
                        restart: true,
                    });
                }
                if let Ok(exe) = std::env::current_exe() {
                    let err = os::restart_into(&exe);
                    eprintln!(
                        "could not restart into the new binary: {err}; it runs at the next start"
                    );
                }
            }
        }
        if once {
            return Ok(end(match flushed {
                Ok(_) => ExitCode::SUCCESS,
                Err(why) => {
                    eprintln!("reports stay spooled in {}: {why}", config.spool_dir);
                    ExitCode::from(1)
                }
            }));
        }
        if last_heartbeat.is_none_or(|t| t.elapsed() >= HEARTBEAT_EVERY) {
            if let Err(e) = client::heartbeat(&http, &config).await {
                eprintln!("heartbeat failed: {e}");
            }
            last_heartbeat = Some(Instant::now());
        }
        let wait = match flushed {
            Ok(_) => {
                backoff = Duration::from_secs(5);
                next_scan
                    .saturating_duration_since(Instant::now())
                    .min(POLL_COMMANDS_EVERY)
            }
            Err(why) => {
                eprintln!("delivery failed, retrying in {}s: {why}", backoff.as_secs());
                let w = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                w
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = &mut stop => return Ok(end(ExitCode::SUCCESS)),
        }
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
    let root = Root::new(root);
    // A check named with --only that this system cannot run would otherwise vanish from
    // the results without a word.
    let platform = root.platform();
    let elsewhere: Vec<String> = checks
        .iter()
        .filter(|c| !only.is_empty() && !c.platforms.iter().any(|p| p == platform))
        .map(|c| format!("{} (for {})", c.id, c.platforms.join(", ")))
        .collect();
    if !elsewhere.is_empty() {
        eprintln!(
            "error: this is a {platform} system; these checks are for another platform: {} \
             (scan a mounted volume of that system with --root)",
            elsewhere.join(", ")
        );
        return ExitCode::from(3);
    }
    let results = run(&checks, &root);
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

/// The SBOM the build script embedded.
const SBOM: &str = include_str!(concat!(env!("OUT_DIR"), "/sbom.json"));

fn sbom() -> ExitCode {
    if SBOM.is_empty() {
        eprintln!("error: this build has no SBOM (its build script could not run cargo tree)");
        return ExitCode::from(3);
    }
    println!("{SBOM}");
    ExitCode::SUCCESS
}

async fn self_update(
    check: bool,
    server: Option<String>,
    config_path: &std::path::Path,
    key_file: Option<&std::path::Path>,
    public_key: Option<String>,
) -> Result<ExitCode, String> {
    // The configuration is needed only for what the command line does not give.
    let config = match (&server, &public_key) {
        (Some(_), Some(_)) => None,
        _ => {
            let key = key_file.map(ConfigKey::load_or_create).transpose()?;
            AgentConfig::load_with(config_path, key.as_ref()).ok()
        }
    };
    let server = server
        .or_else(|| config.as_ref().map(|c| c.server.clone()))
        .ok_or("give --server URL (or enroll first)")?;
    let key_text = public_key
        .or_else(|| config.as_ref().and_then(|c| c.release_public_key.clone()))
        .or_else(|| update::BUILT_IN_KEY.map(str::to_owned));
    let key = key_text
        .as_deref()
        .map(update::parse_public_key)
        .transpose()?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let http = client::http()?;
    match update::update(&http, &server, &exe, key.as_ref(), check).await? {
        update::Outcome::UpToDate(v) => println!("tater-agent {v} is up to date"),
        update::Outcome::Available(v) => println!(
            "tater-agent {v} is available (this is {})",
            env!("CARGO_PKG_VERSION")
        ),
        update::Outcome::Updated { version, previous } => println!(
            "updated to tater-agent {version}; the previous binary is kept at {}",
            previous.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
