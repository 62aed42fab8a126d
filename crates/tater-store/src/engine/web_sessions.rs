//! The web application's sign-in sessions: one row per signed-in browser, found by the hash of
//! its cookie's secret; and its page-view telemetry. Part of the identity transaction (a session is a person's, across
//! organizations). Nothing here is audited: signing in and out changes no tenant data.

use super::*;
use crate::WebSessionTx;
use tater_domain::WebSession;

const SESSION_COLUMNS: &str =
    "id_hash, user_id, org_id, bound_org_id, csrf_token, created_at, last_seen_at, expires_at";

fn org_col(r: &impl RowRead, column: &str) -> Result<Option<OrgId>> {
    let org: Option<String> = r.try_get(column)?;
    org.map(|o| o.parse())
        .transpose()
        .map_err(|_| StoreError::Corrupt(format!("web_sessions.{column} is not an id")))
}

fn session_from_row(r: &impl RowRead) -> Result<WebSession> {
    Ok(WebSession {
        id_hash: r.try_get("id_hash")?,
        user: parse_col(r, "user_id")?,
        org: org_col(r, "org_id")?,
        bound_org: org_col(r, "bound_org_id")?,
        csrf_token: r.try_get("csrf_token")?,
        created_at: ts(r, "created_at")?,
        last_seen_at: ts(r, "last_seen_at")?,
        expires_at: ts(r, "expires_at")?,
    })
}

#[async_trait]
impl<D: Driver> WebSessionTx for EngineIdentityTx<D> {
    async fn insert_web_session(&mut self, s: &WebSession) -> Result<()> {
        D::query(
            "INSERT INTO web_sessions (id_hash, user_id, org_id, bound_org_id, csrf_token, \
             created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.id_hash)
        .bind(s.user.to_string())
        .bind(s.org.map(|o| o.to_string()))
        .bind(s.bound_org.map(|o| o.to_string()))
        .bind(&s.csrf_token)
        .bind(s.created_at.millis())
        .bind(s.last_seen_at.millis())
        .bind(s.expires_at.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn web_session(&mut self, id_hash: &str) -> Result<Option<WebSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM web_sessions WHERE id_hash = $1");
        let row = D::query(&sql)
            .bind(id_hash)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_web_session(&mut self, id_hash: &str, at: Timestamp) -> Result<()> {
        D::query("UPDATE web_sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(at.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn set_web_session_org(&mut self, id_hash: &str, org: OrgId) -> Result<()> {
        D::query("UPDATE web_sessions SET org_id = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(org.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn delete_web_session(&mut self, id_hash: &str) -> Result<()> {
        D::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn delete_web_sessions_of(&mut self, user: UserId) -> Result<u64> {
        let done = D::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_web_sessions(&mut self, before: Timestamp) -> Result<u64> {
        let done = D::query("DELETE FROM web_sessions WHERE expires_at <= $1")
            .bind(before.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn record_page_view(&mut self, view: &tater_domain::PageView) -> Result<()> {
        D::query(
            "INSERT INTO page_views (id, org_id, path, viewed_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tater_domain::PageViewId::generate().to_string())
        .bind(view.org.to_string())
        .bind(&view.path)
        .bind(view.viewed_at.millis())
        .bind(view.expires_at.millis())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn page_view_counts(&mut self, since: Timestamp) -> Result<Vec<(OrgId, String, i64)>> {
        let rows = D::query(
            "SELECT org_id, path, COUNT(*) AS n FROM page_views WHERE viewed_at >= $1 \
             GROUP BY org_id, path ORDER BY n DESC, org_id, path LIMIT 1000",
        )
        .bind(since.millis())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.iter()
            .map(|r| Ok((parse_col(r, "org_id")?, r.try_get("path")?, r.try_get("n")?)))
            .collect()
    }

    async fn delete_expired_page_views(&mut self, before: Timestamp) -> Result<u64> {
        let done = D::query("DELETE FROM page_views WHERE expires_at <= $1")
            .bind(before.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_org_page_views(&mut self, org: OrgId, before: Timestamp) -> Result<u64> {
        let done = D::query("DELETE FROM page_views WHERE org_id = $1 AND viewed_at < $2")
            .bind(org.to_string())
            .bind(before.millis())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }
}
