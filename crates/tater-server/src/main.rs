//! The `tater` binary: parse flags, set up logging, run the command.

use clap::Parser;
use tater_server::cli::{self, Cli, Command};
use tater_server::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: the request path allocates many small, short-lived
/// buffers, and glibc's arenas cost a sixth of a cached read in the profile (issue 20).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging<W>(format: LogFormat, default: &str, writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_env("TATER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // Colour only for a person at a terminal; files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// The server's log writer: lines go through a queue to a thread of their own, which writes
/// them to stderr in batches. Written in place, every request's line took the process-wide
/// stderr lock and a `write` system call on the worker thread that served it; under load the
/// workers queued on that lock (issue 20: most of the server's futex waits at `/healthz`).
/// Not lossy while the server runs: a full queue (`LOG_QUEUE_LINES`) makes the request's thread
/// wait rather than drop a line. On a clean stop the guard writes what is queued (tracing-appender
/// gives it a second); a process killed outright loses the lines still queued, where before it
/// lost at most the one being written.
fn queued_stderr() -> (
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
) {
    const LOG_QUEUE_LINES: usize = 64 * 1024;
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("tater-log")
        // Flushed whenever the queue runs empty, so a line waits only while others are queued.
        .finish(std::io::BufWriter::new(std::io::stderr()))
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
            let (writer, _flush_on_exit) = queued_stderr();
            init_logging(
                args.log_format,
                tater_server::middleware::SERVE_LOG_FILTER,
                writer,
            );
            cli::serve(*args).await
        }
        Command::Admin(args) => {
            init_logging(LogFormat::Text, "warn", std::io::stderr);
            cli::admin(*args).await
        }
        Command::Audit(command) => return tater_server::audit_cli::run(command),
        Command::Mcp(args) => {
            // stdout carries the protocol; logs go to stderr.
            init_logging(LogFormat::Text, "warn", std::io::stderr);
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
