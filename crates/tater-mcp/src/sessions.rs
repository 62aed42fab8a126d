//! Who opened each 2025-11-25 session. rmcp keeps a session for anyone who presents its id;
//! the `/mcp` layer asks here first, so a session serves only the principal that opened it
//! (another one sees "no such session"), and each principal keeps at most
//! [`SESSIONS_PER_PRINCIPAL`] sessions open — the oldest closes when one more opens — so
//! the memory sessions hold is bounded per account.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// Open sessions one principal may keep.
pub const SESSIONS_PER_PRINCIPAL: usize = 8;

#[derive(Default)]
struct Book {
    owner: HashMap<String, String>,
    /// Each principal's sessions, oldest first.
    opened: HashMap<String, VecDeque<String>>,
}

pub struct SessionOwners {
    manager: Arc<LocalSessionManager>,
    book: Mutex<Book>,
}

impl SessionOwners {
    pub fn new(manager: Arc<LocalSessionManager>) -> Self {
        Self {
            manager,
            book: Mutex::new(Book::default()),
        }
    }

    /// Whether `principal` may use session `id`: one it opened, or one nobody opened here
    /// (rmcp then answers that it does not exist).
    pub fn may_use(&self, id: &str, principal: &str) -> bool {
        let Ok(book) = self.book.lock() else {
            return false;
        };
        book.owner.get(id).is_none_or(|owner| owner == principal)
    }

    /// `principal` opened session `id`; closes its oldest one past the limit.
    pub async fn opened(&self, id: &str, principal: &str) {
        let evicted = {
            let Ok(mut book) = self.book.lock() else {
                return;
            };
            book.owner.insert(id.to_owned(), principal.to_owned());
            let mine = book.opened.entry(principal.to_owned()).or_default();
            mine.push_back(id.to_owned());
            let evicted = (mine.len() > SESSIONS_PER_PRINCIPAL)
                .then(|| mine.pop_front())
                .flatten();
            if let Some(old) = &evicted {
                book.owner.remove(old);
            }
            evicted
        };
        if let Some(old) = evicted {
            // Already gone (expired) is fine.
            let _ = self.manager.close_session(&old.as_str().into()).await;
        }
    }

    /// Session `id` was closed by its owner.
    pub fn closed(&self, id: &str) {
        let Ok(mut book) = self.book.lock() else {
            return;
        };
        if let Some(owner) = book.owner.remove(id)
            && let Some(mine) = book.opened.get_mut(&owner)
        {
            mine.retain(|s| s != id);
            if mine.is_empty() {
                book.opened.remove(&owner);
            }
        }
    }
}
