//! Cross-organization operations (SPEC T2): platform operators only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tater_service::{Items, OrgView};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, JsonBody};
use crate::state::AppState;
use tater_service::use_cases::CreateOrganization;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let op = Op::get("/api/organizations", "cross_org_list_organizations")
        .tag("platform")
        .ok(200, "All organizations", None);
    let create = Op::post("/api/organizations", "cross_org_create_organization")
        .tag("platform")
        .ok(201, "Created", None);
    let views = Op::get("/api/page-views", "cross_org_page_views")
        .tag("platform")
        .ok(200, "Page views per organization and page", None);
    api.route(op, get(list_all))
        .route(create, post(create_org))
        .route(views, get(page_views))
}

async fn page_views(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<tater_service::PageViewCount>>> {
    Ok(Json(s.service.cross_org_page_views(&actor).await?))
}

async fn create_org(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<CreateOrganization>,
) -> ApiResult<(StatusCode, Json<OrgView>)> {
    let org = s
        .service
        .cross_org_create_organization(&actor, &body.name, body.entra_tenant_id.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(org)))
}

async fn list_all(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<OrgView>>> {
    Ok(Json(s.service.cross_org_list_organizations(&actor).await?))
}
