//! Running a command from the server — only when this machine's own configuration allows it
//! (`allowRemoteScripts`, off by default). The script runs contained (a process group on Unix,
//! a Job Object on Windows) so a timeout kills everything it started; stdout and stderr are
//! kept up to 64 KiB each.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Output kept per stream.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// A command as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub job_id: String,
    pub language: String,
    pub run_as: String,
    pub timeout_secs: u64,
    pub content: String,
}

impl Command {
    pub fn from_json(v: &Value) -> Option<Self> {
        Some(Self {
            job_id: v.get("jobId")?.as_str()?.to_owned(),
            language: v.get("language")?.as_str()?.to_owned(),
            run_as: v
                .get("runAs")
                .and_then(Value::as_str)
                .unwrap_or("root")
                .to_owned(),
            timeout_secs: v.get("timeoutSecs")?.as_u64()?.clamp(1, 3600),
            content: v.get("content")?.as_str()?.to_owned(),
        })
    }
}

fn refused(reason: &str) -> Value {
    json!({ "status": "refused", "reason": reason })
}

/// Runs `cmd` if allowed and returns the outcome the server takes.
pub async fn run(cmd: &Command, allowed: bool) -> Value {
    if !allowed {
        return refused(
            "remote scripts are disabled on this endpoint (its configuration has allowRemoteScripts: false)",
        );
    }
    let script = match crate::os::script_command(cmd) {
        Ok(s) => s,
        Err(why) => return refused(&why),
    };
    let mut process = script.command;
    process
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let (contained, mut child) = match crate::os::Contained::spawn(process) {
        Ok(c) => c,
        Err(e) => {
            return json!({ "status": "failed", "reason": format!("could not start the script: {e}") });
        }
    };
    let out = tokio::spawn(capped(child.stdout.take()));
    let err = tokio::spawn(capped(child.stderr.take()));
    let waited = tokio::time::timeout(Duration::from_secs(cmd.timeout_secs), child.wait()).await;
    let (status, exit_code, reason) = match waited {
        Ok(Ok(s)) => {
            let code = s.code();
            let ok = code == Some(0);
            (
                if ok { "succeeded" } else { "failed" },
                code.map(i64::from),
                None,
            )
        }
        Ok(Err(e)) => ("failed", None, Some(format!("waiting for the script: {e}"))),
        Err(_) => {
            // The shell and everything it started.
            contained.kill_tree();
            let _ = child.wait().await;
            (
                "timedOut",
                None,
                Some(format!("killed after the {} s timeout", cmd.timeout_secs)),
            )
        }
    };
    let (stdout, out_cut) = out.await.unwrap_or_default();
    let (stderr, err_cut) = err.await.unwrap_or_default();
    let mut notes: Vec<String> = reason.into_iter().collect();
    if out_cut {
        notes.push(format!("stdout truncated at {MAX_OUTPUT} bytes"));
    }
    if err_cut {
        notes.push(format!("stderr truncated at {MAX_OUTPUT} bytes"));
    }
    json!({
        "status": status,
        "exitCode": exit_code,
        "stdout": stdout,
        "stderr": stderr,
        "durationMs": started.elapsed().as_millis() as i64,
        "reason": (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// Reads a stream to its end, keeping the first [`MAX_OUTPUT`] bytes; says whether it cut.
async fn capped(stream: Option<impl AsyncRead + Unpin>) -> (String, bool) {
    let Some(mut s) = stream else {
        return (String::new(), false);
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut cut = false;
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT - kept.len();
        kept.extend_from_slice(&buf[..n.min(room)]);
        cut |= n > room;
    }
    // A character cut in two at the cap becomes U+FFFD; the rest is the script's own text.
    (String::from_utf8_lossy(&kept).into_owned(), cut)
}
