//! The `tater` binary: parse flags, set up logging, run the command.

use clap::Parser;
use tater_server::cli::{self, Cli, Command};
use tater_server::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: the request path allocates many small, short-lived
/// buffers, and glibc's arenas cost a sixth of a cached read in the profile (issue 20).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_env("TATER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal; files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut cli = Cli::parse();
    if let Err(e) = tater_server::credentials::Credentials::from_env().apply(&mut cli) {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging(args.log_format, tater_server::middleware::SERVE_LOG_FILTER);
            cli::serve(*args).await
        }
        Command::Admin(args) => {
            init_logging(LogFormat::Text, "warn");
            cli::admin(*args).await
        }
        Command::Audit(command) => return tater_server::audit_cli::run(command),
        Command::Mcp(args) => {
            // stdout carries the protocol; logs go to stderr.
            init_logging(LogFormat::Text, "warn");
            cli::mcp_bridge(args).await
        }
        Command::Health(args) => cli::health(args).await,
        Command::Sbom => {
            if cli::SBOM.is_empty() {
                eprintln!(
                    "error: this build has no SBOM (its build script could not run cargo tree)"
                );
                return std::process::ExitCode::FAILURE;
            }
            println!("{}", cli::SBOM);
            return std::process::ExitCode::SUCCESS;
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
