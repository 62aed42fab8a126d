//! Cross-organization operations (SPEC T2): platform operators only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tater_service::{Items, OrgView};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody};
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
    let usage = Op::get("/api/organizations/usage", "cross_org_usage")
        .tag("platform")
        .ok(200, "Usage per organization", None);
    let terminate = Op::post(
        "/api/organizations/{id}/terminate",
        "cross_org_terminate_organization",
    )
    .tag("platform")
    .ok(
        200,
        "Terminated: closed now, deleted after `deleteAfter`",
        None,
    );
    let cancel = Op::post(
        "/api/organizations/{id}/terminate/cancel",
        "cross_org_cancel_termination",
    )
    .tag("platform")
    .ok(200, "Active again", None);
    let certificate = Op::get(
        "/api/organizations/{id}/deletion-certificate",
        "cross_org_deletion_certificate",
    )
    .tag("platform")
    .ok(200, "The signed certificate", None);
    let key = Op::get("/.well-known/tater-signing-key", "platform_signing_key").ok(
        200,
        "SubjectPublicKeyInfo PEM",
        None,
    );
    api.route(op, get(list_all))
        .route(create, post(create_org))
        .route(views, get(page_views))
        .route(usage, get(usage_all))
        .route(terminate, post(terminate_org))
        .route(cancel, post(cancel_termination))
        .route(certificate, get(deletion_certificate))
        .route(key, get(signing_key))
}

async fn usage_all(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<tater_service::OrgUsageView>>> {
    Ok(Json(s.service.cross_org_usage(&actor).await?))
}

async fn terminate_org(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(
        s.service
            .cross_org_terminate_organization(&actor, &id)
            .await?,
    ))
}

async fn cancel_termination(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<OrgView>> {
    Ok(Json(
        s.service.cross_org_cancel_termination(&actor, &id).await?,
    ))
}

async fn deletion_certificate(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<tater_service::DeletionCertificateView>> {
    Ok(Json(
        s.service
            .cross_org_deletion_certificate(&actor, &id)
            .await?,
    ))
}

/// The public key that checks deletion certificates (no credential: anyone may verify).
async fn signing_key(State(s): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match s.service.platform_public_key() {
        Some(pem) => (
            [(axum::http::header::CONTENT_TYPE, "application/x-pem-file")],
            pem,
        )
            .into_response(),
        None => crate::error::Problem::not_found().into_response(),
    }
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
