//! The real `tater` binary as a child process, for tests that measure what a client can do to
//! the server's resident memory (`/proc/<pid>/status`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The `tater` binary under test: this build's, or another build's named by
/// `TATER_TEST_SERVER_BIN` (to measure a before and after in one run).
fn tater_bin() -> String {
    std::env::var("TATER_TEST_SERVER_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tater").into())
}

/// `tater <args>` on the SQLite data directory `data`.
pub fn tater_cli(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(tater_bin());
    cmd.args(args)
        .env("TATER_DATA_DIR", data)
        .env_remove("TATER_DATABASE_URL")
        .env("TATER_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run tater");
    assert!(
        out.status.success(),
        "tater {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Through the CLI, as an operator sets up a server: the organization `name` and, for each
/// `(email, role)`, a member with an API key. The organization's id and the keys, in order.
pub fn org_with_keys(data: &Path, name: &str, members: &[(&str, &str)]) -> (String, Vec<String>) {
    org_with_keys_in(data, name, members, &[])
}

/// [`org_with_keys`] with the CLI's environment set (`env`).
pub fn org_with_keys_in(
    data: &Path,
    name: &str,
    members: &[(&str, &str)],
    env: &[(&str, &str)],
) -> (String, Vec<String>) {
    let line = |out: Output| String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let org = line(tater_cli(
        data,
        &["admin", "org", "create", "--name", name],
        env,
    ));
    let mut keys = Vec::new();
    for (email, role) in members {
        let user = [
            "admin", "user", "create", "--org", &org, "--email", email, "--role", role,
        ];
        tater_cli(data, &user, env);
        let key = ["admin", "api-key", "create", "--user", email, "--org", &org];
        keys.push(line(tater_cli(data, &key, env)));
    }
    (org, keys)
}

/// `tater serve` on a random loopback port; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub base: String,
    pub addr: std::net::SocketAddr,
}

impl ServerProcess {
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(data, env, None)
    }

    /// Started with the default log filter (no `TATER_LOG`), its log written to `log`.
    pub fn start_logging_to(data: &Path, env: &[(&str, &str)], log: &Path) -> Self {
        Self::spawn(data, env, Some(log))
    }

    fn spawn(data: &Path, env: &[(&str, &str)], log: Option<&Path>) -> Self {
        let mut cmd = Command::new(tater_bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("TATER_DATA_DIR", data)
            .env_remove("TATER_DATABASE_URL")
            .stdout(Stdio::piped());
        match log {
            Some(path) => {
                let file = std::fs::File::create(path).expect("create the log file");
                cmd.env_remove("TATER_LOG").stderr(file)
            }
            None => cmd.env("TATER_LOG", "warn").stderr(Stdio::inherit()),
        };
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start tater serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("a first line").expect("utf-8");
        let base = first
            .strip_prefix("Tater is running at ")
            .unwrap_or_else(|| panic!("unexpected first line: {first}"))
            .trim_end_matches('/')
            .to_owned();
        let addr = base.trim_start_matches("http://").parse().expect("address");
        // Keep reading stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base, addr }
    }

    /// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`).
    pub fn status_bytes(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{field} in /proc status"));
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .expect("a number of kB");
        kib * 1024
    }

    pub fn rss(&self) -> u64 {
        self.status_bytes("VmRSS")
    }

    pub fn hwm(&self) -> u64 {
        self.status_bytes("VmHWM")
    }
}

impl ServerProcess {
    /// Stops the server as an operator would (SIGTERM) and waits for it to exit, so the log
    /// lines it has queued are written (dropping it kills it at once).
    pub fn stop(mut self) {
        terminate(&mut self.child);
    }
}

/// Sends a `tater` process SIGTERM and waits for its clean exit; panics if it does not exit
/// cleanly within 15 s.
pub fn terminate(child: &mut Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "SIGTERM to the server");
    let started = std::time::Instant::now();
    loop {
        if let Some(code) = child.try_wait().expect("the server's status") {
            assert!(code.success(), "exit status after SIGTERM: {code}");
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A client that sends one GET and then reads only the first `read` bytes of the answer (or
/// its headers, if shorter), keeping the connection open: the slow reader of a memory attack.
pub struct SlowReader {
    /// Held so the connection stays open.
    _stream: tokio::net::TcpStream,
    /// What was read: the status line and the start of the headers.
    pub head: String,
}

impl SlowReader {
    pub async fn open(
        addr: std::net::SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
        read: usize,
    ) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).await.expect("send");
        let mut buf = vec![0u8; read];
        let mut got = 0;
        // Until `read` bytes or the end of the headers, whichever comes first.
        while got < read && !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf[got..]).await.expect("read");
            if n == 0 {
                break;
            }
            got += n;
        }
        buf.truncate(got);
        Self {
            _stream: stream,
            head: String::from_utf8_lossy(&buf).into_owned(),
        }
    }

    /// The HTTP status code of the answer.
    pub fn status(&self) -> u16 {
        self.head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {:?}", self.head))
    }
}
