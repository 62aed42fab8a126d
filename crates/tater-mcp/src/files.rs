//! Files as tool answers (exports, the SSP, the organization's archive). A file use case has
//! one implementation, its REST route; the server hands the MCP handler a [`FileFetcher`]
//! that calls that route in-process with the caller's own credential, so the file is made,
//! authorized, limited and audited exactly as on REST (audited by the MCP channel).
//!
//! Up to [`EMBED_MAX_BYTES`] the file comes back embedded (text as text, anything else as
//! base64 with its MIME type); beyond it, as a short-lived download link that needs no
//! credential (the server signs it for this caller, this path and a few minutes).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use rmcp::model::{CallToolResult, ContentBlock, Resource, ResourceContents};
use serde_json::{Map, Value, json};
use tater_domain::{Channel, ClientInfo, Timestamp};

/// The largest file embedded in a tool answer (512 KiB; about 700 KB once base64-encoded).
pub const EMBED_MAX_BYTES: usize = 512 * 1024;

/// What fetching a file answered.
pub enum Fetched {
    /// The whole file.
    File {
        media_type: String,
        filename: Option<String>,
        bytes: Vec<u8>,
        url: String,
    },
    /// Larger than [`EMBED_MAX_BYTES`]: a signed link to fetch it instead, and when the link
    /// stops working.
    TooLarge {
        media_type: String,
        url: String,
        expires_at: Timestamp,
    },
    /// The route refused: its problem document (`error` holds the machine code).
    Refused(Value),
}

/// Fetches the file of a use case (by name) for the input, as the request's caller, audited
/// through `Channel` with the client named.
#[derive(Clone)]
pub struct FileFetcher(
    #[allow(clippy::type_complexity)]
    pub  Arc<
        dyn Fn(
                String,
                Map<String, Value>,
                Channel,
                Option<ClientInfo>,
            ) -> Pin<Box<dyn Future<Output = Fetched> + Send>>
            + Send
            + Sync,
    >,
);

/// The answer schema of a file tool: what the file is; the file itself is a content block.
pub fn file_schema() -> Map<String, Value> {
    let schema = json!({
        "type": "object",
        "required": ["file"],
        "properties": { "file": {
            "type": "object",
            "required": ["mimeType", "embedded", "uri"],
            "properties": {
                "name": { "type": ["string", "null"], "description": "the file name REST would give it" },
                "mimeType": { "type": "string" },
                "size": { "type": ["integer", "null"], "description": "bytes, when embedded" },
                "embedded": { "type": "boolean", "description": "whether the file is in this answer (an embedded resource) or only linked" },
                "uri": { "type": "string", "description": "embedded: the REST URL of the same file (send the same credential); linked: a download link that needs no credential until expiresAt" },
                "expiresAt": { "type": ["string", "null"], "format": "date-time", "description": "when a download link stops working (ask for the file again after)" },
            },
        } },
    });
    match schema {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

fn is_text(media_type: &str) -> bool {
    media_type.starts_with("text/") || media_type.contains("json")
}

/// The tool answer for a fetched file.
pub fn answer(fetched: Fetched) -> CallToolResult {
    match fetched {
        Fetched::File {
            media_type,
            filename,
            bytes,
            url,
        } => {
            let info = json!({ "file": { "name": filename, "mimeType": media_type,
                "size": bytes.len(), "embedded": true, "uri": url } });
            let contents = match String::from_utf8(bytes) {
                Ok(text) if is_text(&media_type) => ResourceContents::TextResourceContents {
                    uri: url,
                    mime_type: Some(media_type),
                    text,
                    meta: None,
                },
                Ok(text) => blob(url, media_type, text.as_bytes()),
                Err(e) => blob(url, media_type, e.as_bytes()),
            };
            let mut result = CallToolResult::structured(info);
            result.content.push(ContentBlock::resource(contents));
            result
        }
        Fetched::TooLarge {
            media_type,
            url,
            expires_at,
        } => {
            let info = json!({ "file": { "name": null, "mimeType": media_type, "size": null,
                "embedded": false, "uri": url, "expiresAt": expires_at } });
            let mut link = Resource::new(url, "export");
            link.mime_type = Some(media_type);
            let mut result = CallToolResult::structured(info);
            result.content.push(ContentBlock::resource_link(link));
            result
        }
        Fetched::Refused(problem) => {
            let code = problem["error"].as_str().unwrap_or("REFUSED").to_owned();
            let mut error = json!({ "code": code, "message": problem["detail"] });
            if let Some(errors) = problem.get("errors") {
                error["errors"] = errors.clone();
            }
            CallToolResult::structured_error(json!({ "error": error }))
        }
    }
}

fn blob(uri: String, media_type: String, bytes: &[u8]) -> ResourceContents {
    ResourceContents::BlobResourceContents {
        uri,
        mime_type: Some(media_type),
        blob: base64::engine::general_purpose::STANDARD.encode(bytes),
        meta: None,
    }
}
