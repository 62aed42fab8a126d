//! What the server forgets on its own: web sessions past their lifetime (no cookie can use
//! them again) and page views past their 90 days (the trust page's TTL). The server's
//! housekeeping job runs this every minute; each run is one short write transaction.

use tater_store::Mode;

use crate::{Service, ServiceResult};

/// How many rows a sweep forgot.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub web_sessions: u64,
    pub page_views: u64,
}

impl Service {
    /// Deletes the web sessions whose absolute end has passed and the page views whose
    /// expiry has.
    pub async fn forget_expired_web_data(&self) -> ServiceResult<Forgotten> {
        let now = self.clock.now();
        let mut tx = self.store.identity(Mode::Write).await?;
        let forgotten = Forgotten {
            web_sessions: tx.delete_expired_web_sessions(now).await?,
            page_views: tx.delete_expired_page_views(now).await?,
        };
        tx.commit().await?;
        Ok(forgotten)
    }
}
