//! `tater audit verify`: checks an audit log export with no server and no database — only
//! the file and, to check signatures, the keys.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use tater_audit::{AuditKeys, Report, verify_jsonl};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Verify an export (`GET /api/audit-log/export?format=jsonl`): entry hashes, the chain,
    /// checkpoints, the end line and, given keys, signatures. Exits 1 on any problem.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The JSON Lines export.
    #[arg(long)]
    pub file: PathBuf,
    /// A signing key (current or earlier); repeat for several. Without keys, signatures are
    /// not checked (the chain still is).
    #[arg(
        long = "key",
        env = "AUDIT_VERIFY_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub keys: Vec<String>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command; 0 when the log is intact, 1 when it is not, 2 when it cannot be read.
pub fn run(command: AuditCommand) -> ExitCode {
    let AuditCommand::Verify(args) = command;
    match verify(&args) {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let written = if args.json {
                serde_json::to_writer_pretty(&mut out, &report)
                    .map_err(std::io::Error::other)
                    .and_then(|()| writeln!(out))
            } else {
                out.write_all(describe(&report).as_bytes())
            };
            if written.is_err() {
                return ExitCode::from(2);
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn verify(args: &VerifyArgs) -> anyhow::Result<Report> {
    let keys: Vec<&str> = args
        .keys
        .iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .collect();
    let keys = AuditKeys::verify_only(&keys).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let file = File::open(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", args.file.display()))?;
    Ok(verify_jsonl(BufReader::new(file), &keys))
}

/// The report for a person.
pub fn describe(r: &Report) -> String {
    let yes_no = |b: bool| {
        if b {
            "checked"
        } else {
            "not checked (no --key)"
        }
    };
    let mut out = String::new();
    out.push_str(&format!("entries checked:       {}\n", r.entries_checked));
    out.push_str(&format!(
        "signed / unsigned:     {} / {}\n",
        r.signed, r.unsigned
    ));
    out.push_str(&format!(
        "signatures:            {}\n",
        yes_no(r.signatures_checked)
    ));
    if !r.chain_checked {
        out.push_str("chain links:           not checked (filtered export)\n");
    }
    match (r.history_starts_at, r.pruned_at) {
        (Some(seq), Some(at)) => out.push_str(&format!(
            "history kept from:     entry {seq} (entries 1 to {} deleted by the retention \
             period on {at})\n",
            seq - 1
        )),
        _ => out.push_str("history kept from:     entry 1 (the whole log)\n"),
    }
    out.push_str(&format!("checkpoints:           {}\n", r.checkpoints));
    out.push_str(&format!("altered entries:       {}\n", r.altered_entries));
    out.push_str(&format!("bad signatures:        {}\n", r.bad_signatures));
    out.push_str(&format!("unknown keys:          {}\n", r.unknown_keys));
    out.push_str(&format!("chain breaks:          {}\n", r.chain_breaks));
    out.push_str(&format!(
        "checkpoint mismatches: {}\n",
        r.checkpoint_mismatches
    ));
    out.push_str(&format!(
        "truncated:             {}\n",
        if r.truncated { "yes" } else { "no" }
    ));
    out.push_str(&format!("malformed lines:       {}\n", r.malformed_lines));
    if let Some(seq) = r.first_bad_seq {
        out.push_str(&format!("first bad seq:         {seq}\n"));
    }
    for f in &r.findings {
        out.push_str(&format!("  - {}\n", f.message));
    }
    out.push_str(if r.ok {
        "OK: the log is intact\n"
    } else {
        "FAILED: the log is not intact\n"
    });
    out
}
