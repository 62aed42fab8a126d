//! What publishing a policy keeps (the policy itself is a declared module): its numbered
//! versions with their acknowledgement rates, a version's PDF, and members' acknowledgements.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use tater_service::use_cases::ExportedFile;
use tater_service::{
    Acknowledged, AcknowledgementReport, Items, PolicyToAcknowledge, PolicyVersionView,
};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, ExportSlot, IdPath, TwoIds};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    let versions = "/api/policies/{id}/versions";
    let version = "/api/policies/{id}/versions/{version}";
    let acknowledgements = format!("{version}/acknowledgements");
    api.route(
        Op::get(versions, "policy_versions_list").tag("policies").ok(
            200,
            "The policy's published versions, newest first",
            None,
        ),
        get(list_versions),
    )
    .route(
        Op::get(version, "policy_versions_get")
            .tag("policies")
            .ok(200, "The version with its text", None),
        get(get_version),
    )
    .route(
        Op::get(&format!("{version}/pdf"), "policy_versions_pdf")
            .tag("policies")
            .problem(
                409,
                "The text holds characters the PDF fonts cannot show (PDF_UNSUPPORTED_CHARACTERS)",
            )
            .ok(200, "The version as a PDF (an attachment)", None),
        get(version_pdf),
    )
    .route(
        Op::get(&acknowledgements, "policy_acknowledgements_list")
            .tag("policies")
            .ok(
                200,
                "Who acknowledged the version, and which members have not",
                None,
            ),
        get(list_acknowledgements),
    )
    .route(
        Op::post(&acknowledgements, "policy_acknowledgements_create")
            .tag("policies")
            .problem(
                409,
                "The version is not the one in force (VERSION_SUPERSEDED), or the policy is retired (POLICY_RETIRED)",
            )
            .ok(201, "Acknowledged", None)
            .ok(200, "Acknowledged before (nothing changed)", None),
        post(acknowledge),
    )
    .route(
        Op::get("/api/me/policies-to-acknowledge", "policies_to_acknowledge")
            .tag("policies")
            .ok(
                200,
                "Policies whose version in force the caller has not acknowledged",
                None,
            ),
        get(to_acknowledge),
    )
}

async fn list_versions(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Items<PolicyVersionView>>> {
    Ok(Json(s.service.list_policy_versions(&actor, &id).await?))
}

async fn get_version(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, version): TwoIds,
) -> ApiResult<Json<PolicyVersionView>> {
    Ok(Json(
        s.service.get_policy_version(&actor, &id, &version).await?,
    ))
}

/// Rendering counts among the organization's exports in flight, so a burst of PDF requests
/// cannot hold more than a few renderings' memory.
async fn version_pdf(
    State(s): State<AppState>,
    slot: ExportSlot,
    TwoIds(id, version): TwoIds,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
    let (filename, bytes) = s.service.policy_pdf(&actor, &id, &version).await?;
    let res = super::modules::file_response(ExportedFile {
        media_type: "application/pdf",
        filename: Some(filename),
        bytes,
    });
    Ok(permit.hold_until_sent(res))
}

async fn list_acknowledgements(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, version): TwoIds,
) -> ApiResult<Json<AcknowledgementReport>> {
    Ok(Json(
        s.service
            .policy_acknowledgements(&actor, &id, &version)
            .await?,
    ))
}

async fn acknowledge(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, version): TwoIds,
) -> ApiResult<(StatusCode, Json<Acknowledged>)> {
    let done = s.service.acknowledge_policy(&actor, &id, &version).await?;
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(done)))
}

async fn to_acknowledge(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<PolicyToAcknowledge>>> {
    Ok(Json(s.service.policies_to_acknowledge(&actor).await?))
}
