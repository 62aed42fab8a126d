//! A private rsyslog on loopback (Debian packages `rsyslog` and `rsyslog-gnutls`): plain TCP,
//! TLS (its own throwaway CA, made with the `openssl` command) and UDP inputs, writing every
//! message's parsed RFC 5424 fields to a file the test reads. It never touches the system's
//! rsyslog service.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::listen::{Proto, free_port, free_udp_port, wait_until_bound};

pub struct Rsyslog {
    pub tcp_port: u16,
    pub tls_port: u16,
    pub udp_port: u16,
    /// The CA that signed the TLS listener's certificate (for IP 127.0.0.1).
    pub ca_pem: String,
    dir: tempfile::TempDir,
    child: Child,
}

/// One received message, as rsyslog parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub pri: String,
    pub version: String,
    pub timestamp: String,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub msgid: String,
    pub structured_data: String,
    pub msg: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Rsyslog {
    /// Starts rsyslog, or says why not and returns `None` when it is not installed.
    pub fn start() -> Option<Self> {
        let rsyslogd = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(rsyslogd) = rsyslogd else {
            eprintln!(
                "skipped: rsyslog leg (install the Debian packages rsyslog and rsyslog-gnutls)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        std::fs::create_dir(d.join("work")).expect("work dir");
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Tater Test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext file");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        let (tcp_port, tls_port, udp_port) = (free_port(), free_port(), free_udp_port());
        let dp = d.display();
        let conf = format!(
            r#"global(workDirectory="{dp}/work"
       DefaultNetstreamDriverCAFile="{dp}/ca.pem"
       DefaultNetstreamDriverCertFile="{dp}/server.pem"
       DefaultNetstreamDriverKeyFile="{dp}/server.key")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}")
input(type="imtcp" address="127.0.0.1" port="{tls_port}" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
template(name="fields" type="string" string="%pri%\t%protocol-version%\t%timereported:::date-rfc3339%\t%hostname%\t%app-name%\t%procid%\t%msgid%\t%structured-data:::json%\t%msg:::json%\n")
*.* action(type="omfile" file="{dp}/out.log" template="fields")
"#
        );
        std::fs::write(d.join("rsyslog.conf"), conf).expect("config");
        let mut child = Command::new(rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslog.pid"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("rsyslog.err")).expect("log file"))
            .spawn()
            .expect("start rsyslogd");
        // Ready when *this* rsyslogd holds each port: a connect alone could reach another
        // test's receiver that picked the same port first.
        let errors = || std::fs::read_to_string(d.join("rsyslog.err")).unwrap_or_default();
        for (port, proto) in [
            (tcp_port, Proto::Tcp),
            (tls_port, Proto::Tcp),
            (udp_port, Proto::Udp),
        ] {
            wait_until_bound(
                &mut child,
                port,
                proto,
                "rsyslogd",
                Duration::from_secs(10),
                errors,
            );
        }
        let me = Self {
            tcp_port,
            tls_port,
            udp_port,
            ca_pem: std::fs::read_to_string(d.join("ca.pem")).expect("CA"),
            dir,
            child,
        };
        Some(me)
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out.log")
    }

    /// rsyslog's own error output.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rsyslog.err")).unwrap_or_default()
    }

    /// Every message received so far.
    pub fn received(&self) -> Vec<Received> {
        let text = std::fs::read_to_string(self.out()).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                let unjson = |s: &str| serde_json::from_str::<String>(&format!("\"{s}\"")).ok();
                (f.len() == 9).then(|| Received {
                    pri: f[0].into(),
                    version: f[1].into(),
                    timestamp: f[2].into(),
                    hostname: f[3].into(),
                    app_name: f[4].into(),
                    procid: f[5].into(),
                    msgid: f[6].into(),
                    structured_data: unjson(f[7]).unwrap_or_default(),
                    msg: unjson(f[8]).unwrap_or_default(),
                })
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
