//! `upsert_config_doc` (the trust page's name): a configuration document is often kept by its
//! title ("SSH hardening baseline"), so an assistant or a sync job writes it by title without
//! first looking up its id. The write is the module's own create or replace, validated and
//! audited as those are.

use serde_json::Value;
use tater_domain::modules::CONFIG_DOCS;
use tater_domain::policy::{Action, authorize};
use tater_domain::{Actor, ValidationErrors};

use crate::{Service, ServiceResult};

/// Pages of search results looked through for the title (a page holds up to 200).
const MAX_PAGES: usize = 50;

impl Service {
    /// Replaces the document titled `body.title` (exactly, the oldest if several), or creates
    /// it; answers the document as stored.
    pub async fn upsert_config_doc(&self, actor: &Actor, body: &Value) -> ServiceResult<Value> {
        authorize(actor, Action::WriteRecord)?;
        let Some(title) = body.get("title").and_then(Value::as_str) else {
            return Err(ValidationErrors::single(
                "title",
                "is required: documents are upserted by title",
            )
            .into());
        };
        match self.config_doc_titled(actor, title).await? {
            Some(id) => self.update_record(actor, &CONFIG_DOCS, &id, body).await,
            None => self.create_record(actor, &CONFIG_DOCS, body).await,
        }
    }

    async fn config_doc_titled(&self, actor: &Actor, title: &str) -> ServiceResult<Option<String>> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = vec![
                ("q".to_owned(), title.to_owned()),
                ("limit".to_owned(), "200".to_owned()),
                ("sort".to_owned(), "createdAt".to_owned()),
            ];
            if let Some(c) = cursor.take() {
                params.push(("cursor".to_owned(), c));
            }
            let query = self.list_query(&CONFIG_DOCS, &params, &[])?;
            let page = self.list_records(actor, &CONFIG_DOCS, &query).await?;
            let found = page
                .items
                .iter()
                .find(|d| d["title"].as_str() == Some(title))
                .and_then(|d| d["id"].as_str());
            if let Some(id) = found {
                return Ok(Some(id.to_owned()));
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(None),
            }
        }
        Ok(None)
    }
}
