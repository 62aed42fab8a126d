//! Email over SMTP (`lettre`): identity verification codes now, reminders later.
//!
//! `--smtp-url` names the relay: `smtps://host[:465]` (TLS from the first byte) or
//! `smtp://host[:587]` (STARTTLS, required). Plain SMTP only to a loopback relay
//! (`smtp://127.0.0.1:1025`): a local sink, or a relay on the same machine. Credentials go in
//! the URL's user and password (`smtp://user:pass@host`).

use std::time::Duration;

use anyhow::{Context, bail};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tater_domain::Email;

/// How long one delivery may take before the caller hears it failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// Where mail goes and whom it comes from.
#[derive(Clone)]
pub struct MailConfig {
    /// `smtp://` or `smtps://` (see the module documentation). Holds the relay's password.
    pub smtp_url: String,
    /// The sender (`Tater <tater@example.com>` or a bare address).
    pub from: String,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &"[redacted]")
            .field("from", &self.from)
            .finish()
    }
}

/// A configured SMTP relay.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// How a relay is reached.
#[derive(Debug, PartialEq, Eq)]
enum Security {
    /// TLS from the first byte (`smtps://`).
    Implicit,
    /// Plain, then STARTTLS, refused if the relay does not offer it.
    StartTls,
    /// No TLS: loopback relays only.
    Plain,
}

fn security(url: &url::Url) -> anyhow::Result<Security> {
    // `smtp:` is not a special scheme to the URL standard, so an IPv4 address comes back
    // as a domain: parse it here.
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => bail!("the SMTP URL names no host"),
    };
    Ok(match url.scheme() {
        "smtps" => Security::Implicit,
        "smtp" if loopback => Security::Plain,
        "smtp" => Security::StartTls,
        other => bail!("the SMTP URL must start with smtp:// or smtps://, not {other}://"),
    })
}

impl Mailer {
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let url = url::Url::parse(&config.smtp_url).context("the SMTP URL is not a URL")?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let builder = match security(&url)? {
            Security::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?,
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)?,
            Security::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
        };
        let mut builder = builder.timeout(Some(SEND_TIMEOUT));
        if let Some(port) = url.port() {
            builder = builder.port(port);
        }
        if !url.username().is_empty() {
            let decode = |s: &str| {
                percent_decode(s).context("the SMTP URL's credentials are not valid UTF-8")
            };
            builder = builder.credentials(Credentials::new(
                decode(url.username())?,
                decode(url.password().unwrap_or_default())?,
            ));
        }
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("--mail-from is not an address: {}", config.from))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Sends one plain-text message; the relay's refusal or silence is an error.
    pub async fn send(&self, to: &Email, subject: &str, body: String) -> anyhow::Result<()> {
        let to: Mailbox = to.as_str().parse().context("the recipient's address")?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .context("building the message")?;
        self.transport
            .send(message)
            .await
            .context("the SMTP relay did not take the message")?;
        Ok(())
    }
}

fn percent_decode(s: &str) -> anyhow::Result<String> {
    Ok(
        form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(url: &str) -> anyhow::Result<Security> {
        security(&url::Url::parse(url)?)
    }

    #[test]
    fn plain_smtp_only_to_loopback() {
        assert_eq!(sec("smtp://127.0.0.1:1025").ok(), Some(Security::Plain));
        assert_eq!(sec("smtp://localhost").ok(), Some(Security::Plain));
        assert_eq!(sec("smtp://[::1]:25").ok(), Some(Security::Plain));
        assert_eq!(
            sec("smtp://mail.example.com").ok(),
            Some(Security::StartTls)
        );
        assert_eq!(sec("smtp://10.0.0.5").ok(), Some(Security::StartTls));
        assert_eq!(
            sec("smtps://mail.example.com").ok(),
            Some(Security::Implicit)
        );
        assert!(sec("http://mail.example.com").is_err());
    }

    // The transport's connection pool needs a runtime.
    #[tokio::test]
    async fn credentials_come_from_the_url() {
        assert_eq!(
            percent_decode("p%40ss+word").ok().as_deref(),
            Some("p@ss+word")
        );
        let m = Mailer::new(&MailConfig {
            smtp_url: "smtp://user:secret@127.0.0.1:2525".into(),
            from: "Tater <tater@example.com>".into(),
        });
        assert!(m.is_ok());
        let bad_from = Mailer::new(&MailConfig {
            smtp_url: "smtp://127.0.0.1:2525".into(),
            from: "not an address".into(),
        });
        assert!(bad_from.is_err());
    }

    #[test]
    fn the_url_is_never_printed() {
        let c = MailConfig {
            smtp_url: "smtp://user:secret@127.0.0.1".into(),
            from: "t@example.com".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
