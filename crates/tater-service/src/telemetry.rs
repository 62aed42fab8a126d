//! The web application's page-view beacon (the trust page: "application telemetry beyond the
//! explicit pageview beacon", 90-day TTL, opt-out by DNT or a cookie). A view records the
//! page's path template, the organization and the time — no person, address, browser or
//! query string — and its row carries its expiry. Only platform operators read the counts.

use serde::Serialize;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, OrgId, PageView, ValidationErrors};
use tater_store::Mode;

use crate::{Items, Service, ServiceResult};

/// How long a page view is kept.
pub const PAGE_VIEW_TTL_DAYS: i64 = 90;
const MAX_PATH_LEN: usize = 200;

/// Views of one page in one organization.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageViewCount {
    pub org_id: OrgId,
    /// The page's path template, e.g. `/app/poam/{id}`.
    pub page: String,
    /// Views in the last 90 days.
    pub views: i64,
}

/// A path template as pages name themselves: `/app` and below, each segment a word of
/// lowercase letters, `-` and `_`, or a `{placeholder}` — so never an id, a number, a name
/// with a dot (a host, an address) or a query.
fn is_page_template(path: &str) -> bool {
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
    };
    let segment = |s: &str| {
        word(s)
            || s.strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .is_some_and(|inner| {
                    inner.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') && !inner.is_empty()
                })
    };
    path.len() <= MAX_PATH_LEN
        && path.strip_prefix("/app").is_some_and(|rest| {
            rest.is_empty()
                || rest
                    .strip_prefix('/')
                    .is_some_and(|r| r.split('/').all(segment))
        })
}

impl Service {
    /// Records a view of `page` in the actor's organization.
    pub async fn record_page_view(&self, actor: &Actor, page: &str) -> ServiceResult<()> {
        authorize(actor, Action::Read)?;
        if !is_page_template(page) {
            return Err(
                ValidationErrors::single("page", "is not a page of the web application").into(),
            );
        }
        let now = self.clock.now();
        let view = PageView {
            org: actor.org(),
            path: page.to_owned(),
            viewed_at: now,
            expires_at: now.plus_seconds(PAGE_VIEW_TTL_DAYS * 24 * 3600),
        };
        let mut tx = self.store.identity(Mode::Write).await?;
        tx.record_page_view(&view).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Cross-organization: page views per organization and page in the last 90 days.
    pub async fn cross_org_page_views(&self, actor: &Actor) -> ServiceResult<Items<PageViewCount>> {
        authorize(actor, Action::CrossOrg)?;
        let since = self
            .clock
            .now()
            .plus_seconds(-PAGE_VIEW_TTL_DAYS * 24 * 3600);
        let mut tx = self.store.identity(Mode::Read).await?;
        let counts = tx.page_view_counts(since).await?;
        tx.commit().await?;
        Ok(Items {
            items: counts
                .into_iter()
                .map(|(org_id, page, views)| PageViewCount {
                    org_id,
                    page,
                    views,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_page_templates_are_recorded() {
        for ok in [
            "/app",
            "/app/poam/{id}",
            "/app/controls",
            "/app/actions/{tool}",
        ] {
            assert!(super::is_page_template(ok), "{ok}");
        }
        for bad in [
            "/api/poam",
            "/app?x=1",
            "/app/poam/01a2 3",
            "/apps",
            "/app/<script>",
            "/app/poam/01a24188-7511-736a-8085-54373ea0421c",
            "/app/endpoints/web-01.example.com",
            "/app/controls/ac-2",
            "/app/poam/{}",
            "/app//poam",
            "",
        ] {
            assert!(!super::is_page_template(bad), "{bad}");
        }
    }
}
