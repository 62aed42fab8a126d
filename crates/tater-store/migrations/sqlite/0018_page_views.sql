-- Page views of the web application (issue 14): the page's path template, the organization
-- and the time, nothing else — no person, no address, no browser, no query string. Each row
-- carries its expiry (90 days) for the retention sweep.
CREATE TABLE page_views (
    id         TEXT PRIMARY KEY NOT NULL,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    viewed_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX page_views_by_org ON page_views (org_id, path);
CREATE INDEX page_views_by_expiry ON page_views (expires_at);
