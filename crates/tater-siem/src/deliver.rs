//! Sending events to one destination, through the egress module (vetted again each time).

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tater_domain::Clock;
use tater_egress::{Egress, HostRef};
use tokio::io::AsyncWriteExt;

use crate::destination::{Spec, SyslogConfig, Transport, WebhookConfig};
use crate::entry::Event;
use crate::syslog::{SyslogHeader, message, octet_counted};
use crate::webhook;

/// A destination ready to send to: its settings and, for webhooks, the decrypted secret.
#[derive(Clone)]
pub struct Target {
    pub id: String,
    pub spec: Spec,
    pub secret: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("spec", &self.spec)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// What became of the first event that did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Try again later (after `retry_after` if the receiver said so).
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    /// The receiver refused this event for good: keep it as a dead letter and go on.
    Dead { error: String },
}

/// The result of sending a batch: how many events (from the front) were accepted, and why
/// the next one was not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub accepted: usize,
    pub failure: Option<Failure>,
}

/// Sends events. One per server; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    egress: Arc<Egress>,
    /// The HOSTNAME of syslog messages.
    hostname: String,
    /// The server's one clock: webhook signatures carry its time.
    clock: Arc<dyn Clock>,
}

impl Sender {
    pub fn new(egress: Arc<Egress>, hostname: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            egress,
            hostname,
            clock,
        }
    }

    pub fn egress(&self) -> &Egress {
        &self.egress
    }

    /// Sends `events` in order; stops at the first that fails.
    pub async fn send(&self, target: &Target, events: &[Event]) -> Sent {
        match &target.spec {
            Spec::Syslog(c) => self.send_syslog(c, events).await,
            Spec::Webhook { config, .. } => self.send_webhook(target, config, events).await,
        }
    }

    async fn send_syslog(&self, c: &SyslogConfig, events: &[Event]) -> Sent {
        let header = SyslogHeader {
            facility: c.facility,
            app_name: c.app_name.clone(),
            hostname: self.hostname.clone(),
        };
        let messages: Vec<Vec<u8>> = events.iter().map(|e| message(&header, &e.view())).collect();
        let result = match c.transport {
            Transport::Udp => self.syslog_udp(c, &messages).await,
            Transport::Tcp | Transport::Tls => self.syslog_stream(c, &messages).await,
        };
        match result {
            Ok(()) => Sent {
                accepted: events.len(),
                failure: None,
            },
            // A stream gives no per-message acknowledgement, so a broken batch is sent again
            // whole: delivery is at least once (receivers drop repeats by `externalId`).
            Err(e) => Sent {
                accepted: 0,
                failure: Some(Failure::Retry {
                    error: e,
                    retry_after: None,
                }),
            },
        }
    }

    async fn syslog_udp(&self, c: &SyslogConfig, messages: &[Vec<u8>]) -> Result<(), String> {
        let vetted = self
            .egress
            .vet_host(&c.host, c.port)
            .await
            .map_err(|e| e.to_string())?;
        let socket = self
            .egress
            .connect_udp(&vetted)
            .await
            .map_err(|e| e.to_string())?;
        for m in messages {
            socket.send(m).await.map_err(|e| format!("sending: {e}"))?;
        }
        Ok(())
    }

    async fn syslog_stream(&self, c: &SyslogConfig, messages: &[Vec<u8>]) -> Result<(), String> {
        let vetted = self
            .egress
            .vet_host(&c.host, c.port)
            .await
            .map_err(|e| e.to_string())?;
        let tcp = self
            .egress
            .connect_tcp(&vetted)
            .await
            .map_err(|e| e.to_string())?;
        let mut framed = Vec::new();
        for m in messages {
            framed.extend(octet_counted(m));
        }
        let timeout = self.egress.config().request_timeout;
        let write = async {
            if c.transport == Transport::Tls {
                let config = tls_config(c.ca_cert.as_deref())?;
                let name = match &vetted.host {
                    HostRef::Name(n) => {
                        ServerName::try_from(n.clone()).map_err(|e| e.to_string())?
                    }
                    HostRef::Ip(ip) => ServerName::IpAddress((*ip).into()),
                };
                let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {e}"))?;
                tls.write_all(&framed)
                    .await
                    .map_err(|e| format!("sending: {e}"))?;
                tls.flush().await.map_err(|e| format!("sending: {e}"))?;
                // close_notify, so the receiver knows nothing was cut off.
                tls.shutdown().await.map_err(|e| format!("closing: {e}"))
            } else {
                let mut tcp = tcp;
                tcp.write_all(&framed)
                    .await
                    .map_err(|e| format!("sending: {e}"))?;
                tcp.shutdown().await.map_err(|e| format!("closing: {e}"))
            }
        };
        tokio::time::timeout(timeout, write)
            .await
            .map_err(|_| "timed out sending".to_owned())?
    }

    async fn send_webhook(&self, target: &Target, c: &WebhookConfig, events: &[Event]) -> Sent {
        let secret = target.secret.clone().unwrap_or_default();
        for (i, event) in events.iter().enumerate() {
            let body = event.json.to_string().into_bytes();
            let delivery = webhook::delivery_id(&target.id, event.view().id);
            let now = self.clock.now().millis().div_euclid(1000);
            let headers = webhook::headers(&secret, &delivery, now, &body);
            let failure = match self.egress.post(&c.url, &headers, body).await {
                Ok(reply) => classify(reply.status, reply.retry_after, &reply.body),
                // Refused (the address turned non-public), unreachable or timed out: the
                // events stay queued and the destination shows the reason.
                Err(e) => Some(Failure::Retry {
                    error: e.to_string(),
                    retry_after: None,
                }),
            };
            if let Some(f) = failure {
                return Sent {
                    accepted: i,
                    failure: Some(f),
                };
            }
        }
        Sent {
            accepted: events.len(),
            failure: None,
        }
    }
}

/// How a webhook answer counts: 2xx accepted; 400, 413 and 422 refuse this event for good
/// (a dead letter); anything else — redirects (not followed), 401/403/404 (a configuration
/// problem that affects every event), 408, 429, 5xx — is retried, honouring `Retry-After`.
fn classify(status: u16, retry_after: Option<u64>, body: &[u8]) -> Option<Failure> {
    let snippet: String = String::from_utf8_lossy(&body[..body.len().min(200)])
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let error = if snippet.is_empty() {
        format!("the receiver answered HTTP {status}")
    } else {
        format!("the receiver answered HTTP {status}: {snippet}")
    };
    match status {
        200..=299 => None,
        300..=399 => Some(Failure::Retry {
            error: format!("{error} (redirects are not followed; fix the URL)"),
            retry_after: None,
        }),
        400 | 413 | 422 => Some(Failure::Dead { error }),
        _ => Some(Failure::Retry {
            error,
            retry_after: retry_after.map(Duration::from_secs),
        }),
    }
}

/// TLS 1.2/1.3 with the public web roots, or only the given CA.
fn tls_config(ca_pem: Option<&str>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| format!("CA certificate: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA certificate: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(204, None, b""), None);
        assert!(matches!(
            classify(422, None, b"bad"),
            Some(Failure::Dead { .. })
        ));
        assert_eq!(
            classify(429, Some(30), b""),
            Some(Failure::Retry {
                error: "the receiver answered HTTP 429".into(),
                retry_after: Some(Duration::from_secs(30))
            })
        );
        assert!(matches!(
            classify(302, None, b""),
            Some(Failure::Retry { .. })
        ));
        assert!(matches!(
            classify(401, None, b""),
            Some(Failure::Retry { .. })
        ));
    }
}
