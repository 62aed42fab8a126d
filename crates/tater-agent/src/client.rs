//! Talking to the server: enrollment, reports, heartbeats. rustls only, and names resolved
//! by a Rust resolver reading /etc/resolv.conf (the static binary does not use glibc's NSS).

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::AgentConfig;
use crate::facts::Facts;

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server has it (new, or already stored from an earlier attempt).
    Accepted,
    /// The server refused it for good (a 4xx other than auth/rate problems).
    Rejected(String),
    /// Try again later.
    Retry(String),
}

pub fn http() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .hickory_dns(true)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("tater-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Enrolls with a token; returns the endpoint id and credential. `current`, the credential of
/// an earlier enrolment of this machine, proves continuity when the hostname is enrolled.
pub async fn enroll(
    server: &str,
    token: &str,
    facts: &Facts,
    current: Option<&str>,
) -> Result<(String, String), String> {
    let url = format!("{}/api/agent/enroll", server.trim_end_matches('/'));
    let body = json!({
        "token": token, "hostname": facts.hostname, "os": facts.os, "osVersion": facts.os_version,
        "arch": facts.arch, "agentVersion": env!("CARGO_PKG_VERSION"),
    });
    let mut req = http()?.post(&url).json(&body);
    if let Some(credential) = current {
        req = req.header("x-api-key", credential);
    }
    let res = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let detail = v
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("no detail");
        return Err(format!(
            "the server refused enrollment (HTTP {status}): {detail}"
        ));
    }
    match (
        v.get("endpointId").and_then(Value::as_str),
        v.get("apiKey").and_then(Value::as_str),
    ) {
        (Some(id), Some(key)) => Ok((id.to_owned(), key.to_owned())),
        _ => Err("the server's answer has no endpointId/apiKey".into()),
    }
}

/// Sends one spooled report.
pub async fn report(client: &reqwest::Client, config: &AgentConfig, body: Vec<u8>) -> Delivery {
    let url = format!("{}/api/agent/scans", config.server);
    let res = client
        .post(&url)
        .header("x-api-key", &config.api_key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => return Delivery::Retry(format!("cannot reach {url}: {e}")),
    };
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    match status {
        200..=299 => Delivery::Accepted,
        401 | 403 | 408 | 429 | 500..=599 => {
            Delivery::Retry(format!("HTTP {status}: {}", snippet(&text)))
        }
        _ => Delivery::Rejected(format!("HTTP {status}: {}", snippet(&text))),
    }
}

/// Says the agent is alive.
pub async fn heartbeat(client: &reqwest::Client, config: &AgentConfig) -> Result<(), String> {
    let url = format!("{}/api/agent/heartbeat", config.server);
    let res = client
        .post(&url)
        .header("x-api-key", &config.api_key)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", res.status()))
    }
}

fn snippet(text: &str) -> String {
    text.chars().take(300).collect()
}

/// The pending commands for this endpoint.
pub async fn commands(
    client: &reqwest::Client,
    config: &AgentConfig,
) -> Result<Vec<Value>, String> {
    let url = format!("{}/api/agent/commands", config.server);
    let res = client
        .get(&url)
        .header("x-api-key", &config.api_key)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !res.status().is_success() {
        return Err(format!("HTTP {}", res.status()));
    }
    let v: Value = res.json().await.map_err(|e| e.to_string())?;
    Ok(v.get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Reports a command's outcome.
pub async fn command_result(
    client: &reqwest::Client,
    config: &AgentConfig,
    job_id: &str,
    outcome: &Value,
) -> Result<(), String> {
    let url = format!("{}/api/agent/commands/{job_id}/result", config.server);
    let res = client
        .post(&url)
        .header("x-api-key", &config.api_key)
        .json(outcome)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!(
            "HTTP {}: {}",
            res.status(),
            snippet(&res.text().await.unwrap_or_default())
        ))
    }
}
