//! The pages' static files, built into the binary and served under content-hashed names
//! (`/assets/tater.1a2b3c4d5e.css`) with a year-long immutable cache: a new release changes
//! the name, so browsers never run a stale stylesheet or script. Pages themselves stay
//! `no-store`.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One static file.
pub struct Asset {
    /// The name templates ask for.
    pub name: &'static str,
    pub media_type: &'static str,
    pub bytes: &'static [u8],
}

const FILES: &[Asset] = &[
    Asset {
        name: "tater.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/tater.css"),
    },
    Asset {
        name: "beacon.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/beacon.js"),
    },
    Asset {
        name: "analyst.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/analyst.js"),
    },
    // htmx 2, vendored from npm (assets/vendor/htmx/README.md).
    Asset {
        name: "htmx.min.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/htmx/htmx.min.js"),
    },
    Asset {
        name: "favicon.svg",
        media_type: "image/svg+xml",
        bytes: include_bytes!("../assets/favicon.svg"),
    },
];

/// The hashed file name of each asset, and the asset of each hashed file name.
struct Index {
    hashed: HashMap<&'static str, String>,
    by_hashed: HashMap<String, &'static Asset>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let mut hashed = HashMap::new();
    let mut by_hashed = HashMap::new();
    for asset in FILES {
        let digest = hex::encode(&Sha256::digest(asset.bytes)[..5]);
        let file = match asset.name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{digest}.{ext}"),
            None => format!("{}.{digest}", asset.name),
        };
        hashed.insert(asset.name, format!("/assets/{file}"));
        by_hashed.insert(file, asset);
    }
    Index { hashed, by_hashed }
});

/// The URL of the asset `name` (its content-hashed path).
pub fn path(name: &str) -> &'static str {
    INDEX
        .hashed
        .get(name)
        .map(String::as_str)
        .unwrap_or("/assets/missing")
}

/// An asset by its plain name (the documented `/assets/tater.css` of the start page).
pub fn by_name(name: &str) -> Option<&'static Asset> {
    FILES.iter().find(|a| a.name == name)
}

/// `GET /assets/{file}` for a hashed name: the bytes, cached for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(asset) = INDEX.by_hashed.get(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut res = asset.bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    res
}
