//! A private SMTP sink on loopback: PyPI's `aiosmtpd` (an independent SMTP server) writing
//! every message it accepts into a Maildir the test reads. `.ci/run` installs it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::listen::{Proto, free_port, wait_until_bound};

pub struct MailSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// One accepted message: its envelope recipients and its whole text.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub text: String,
}

impl MailSink {
    /// Starts the sink, or says why not and returns `None` when `aiosmtpd` is not installed.
    pub fn start() -> Option<Self> {
        Self::installed().then(|| Self::start_on(free_port()))
    }

    /// Whether `aiosmtpd` is installed; says "skipped" when it is not.
    pub fn installed() -> bool {
        let found = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            eprintln!("skipped: the SMTP sink is not installed (pip install aiosmtpd)");
        }
        found
    }

    /// Starts the sink on `port` (a relay that comes back where it was); `aiosmtpd` must be
    /// installed ([`MailSink::start`] says "skipped" when it is not).
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let maildir = dir.path().join("mail");
        let errors = dir.path().join("aiosmtpd.err");
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&errors).expect("error file"))
            .spawn()
            .expect("python3 runs");
        // Ready when *this* sink holds the port: a connect alone could reach another test's
        // sink that picked the same port first (the two tests would read each other's mail).
        wait_until_bound(
            &mut child,
            port,
            Proto::Tcp,
            "aiosmtpd",
            Duration::from_secs(15),
            || std::fs::read_to_string(&errors).unwrap_or_default(),
        );
        Self { port, dir, child }
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, which Tater allows to loopback only.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The Maildir messages land in (for independent readers).
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    fn new_dir(&self) -> PathBuf {
        self.maildir().join("new")
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.new_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .map(|text| Mail {
                to: header(&text, "X-RcptTo").unwrap_or_default(),
                text,
            })
            .collect()
    }

    /// Freezes the sink (SIGSTOP): connections are still accepted by the kernel but nobody
    /// answers them — a relay that hangs mid-delivery. [`MailSink::resume`] thaws it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let status = Command::new("kill")
            .args([which, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {which} the SMTP sink");
    }

    /// The six-digit code in the newest message to `to`, if there is one.
    pub fn last_code_for(&self, to: &str) -> Option<String> {
        self.messages()
            .into_iter()
            .rev()
            .find(|m| m.to.contains(to))
            .and_then(|m| six_digits(&m.text))
    }
}

fn header(text: &str, name: &str) -> Option<String> {
    text.lines()
        .take_while(|l| !l.trim_end().is_empty())
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_owned())
}

/// The first run of exactly six digits in the body.
fn six_digits(text: &str) -> Option<String> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.trim_end().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
