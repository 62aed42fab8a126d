//! What an audit holds beyond its record (the record itself is a declared module): snapshots
//! of its scope with their evidence packages, auditor tokens, and the read-only routes an
//! outside auditor calls with one (`/api/auditor/…`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use tater_service::{
    AuditorAuditView, AuditorTokenView, CreateAuditorToken, CreatedAuditorToken, Items,
    SnapshotView,
};

use super::data_export::stream_file;
use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuditorActor, AuthActor, ExportSlot, IdPath, JsonBody, TwoIds};
use crate::state::AppState;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let snapshots = "/api/audits/{id}/snapshots";
    let snapshot = api.schema_of::<SnapshotView>();
    let tokens = "/api/audits/{id}/auditor-tokens";
    api.route(
        Op::post(snapshots, "audit_snapshots_create")
            .tag("audits")
            .problem(
                409,
                "The audit keeps 50 snapshots already (TOO_MANY_SNAPSHOTS), or its scope is too large to freeze (SNAPSHOT_TOO_LARGE)",
            )
            .ok(201, "The snapshot (without its body)", None),
        post(take_snapshot),
    )
    .route(
        Op::get(snapshots, "audit_snapshots_list").tag("audits").ok(
            200,
            "The audit's snapshots, newest first",
            None,
        ),
        get(list_snapshots),
    )
    .route(
        Op::get(
            &format!("{snapshots}/{{snapshotId}}"),
            "audit_snapshots_get",
        )
        .tag("audits")
        .ok(200, "The snapshot with its body", None)
        .ok_content("application/json", snapshot),
        get(get_snapshot),
    )
    .route(
        Op::get(
            &format!("{snapshots}/{{snapshotId}}/package"),
            "audit_snapshots_package",
        )
        .tag("audits")
        .ok(
            200,
            "A zip: snapshot, control status, evidence list, manifest",
            None,
        ),
        get(snapshot_package),
    )
    .route(
        Op::post(tokens, "auditor_tokens_create").tag("audits").ok(
            201,
            "The token (field `token`, shown once) and its record",
            None,
        ),
        post(create_token),
    )
    .route(
        Op::get(tokens, "auditor_tokens_list").tag("audits").ok(
            200,
            "The audit's auditor tokens (never their secrets)",
            None,
        ),
        get(list_tokens),
    )
    .route(
        Op::delete(&format!("{tokens}/{{tokenId}}"), "auditor_tokens_revoke")
            .tag("audits")
            .ok(204, "Revoked", None),
        delete(revoke_token),
    )
    .route(
        Op::get("/api/auditor", "auditor_audit").tag("auditor").ok(
            200,
            "The token's audit and its snapshots",
            None,
        ),
        get(auditor_audit),
    )
    .route(
        Op::get("/api/auditor/snapshots/{snapshotId}", "auditor_snapshot")
            .tag("auditor")
            .ok(200, "The snapshot with its body", None),
        get(auditor_snapshot),
    )
    .route(
        Op::get(
            "/api/auditor/snapshots/{snapshotId}/package",
            "auditor_package",
        )
        .tag("auditor")
        .ok(
            200,
            "A zip: snapshot, control status, evidence list, manifest",
            None,
        ),
        get(auditor_package),
    )
}

async fn take_snapshot(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<SnapshotView>)> {
    let made = s.service.take_snapshot(&actor, &id).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

async fn list_snapshots(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Items<SnapshotView>>> {
    Ok(Json(s.service.list_snapshots(&actor, &id).await?))
}

async fn get_snapshot(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, snapshot): TwoIds,
) -> ApiResult<Json<SnapshotView>> {
    Ok(Json(s.service.get_snapshot(&actor, &id, &snapshot).await?))
}

/// Packages count among the organization's exports in flight (and the caller's), like the
/// whole-organization export: a file each, built in a temporary file and streamed.
async fn snapshot_package(
    State(s): State<AppState>,
    slot: ExportSlot,
    TwoIds(id, snapshot): TwoIds,
) -> ApiResult<Response> {
    let ExportSlot { actor, permit } = slot;
    let package = s.service.snapshot_package(&actor, &id, &snapshot).await?;
    Ok(permit.hold_until_sent(stream_file(package)))
}

async fn create_token(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<CreateAuditorToken>,
) -> ApiResult<(StatusCode, Json<CreatedAuditorToken>)> {
    let made = s.service.create_auditor_token(&actor, &id, &body).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

async fn list_tokens(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<Items<AuditorTokenView>>> {
    Ok(Json(s.service.list_auditor_tokens(&actor, &id).await?))
}

async fn revoke_token(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    TwoIds(id, token): TwoIds,
) -> ApiResult<StatusCode> {
    s.service.revoke_auditor_token(&actor, &id, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn auditor_audit(
    State(s): State<AppState>,
    AuditorActor(actor): AuditorActor,
) -> ApiResult<Json<AuditorAuditView>> {
    Ok(Json(s.service.auditor_audit(&actor).await?))
}

async fn auditor_snapshot(
    State(s): State<AppState>,
    AuditorActor(actor): AuditorActor,
    IdPath(snapshot): IdPath,
) -> ApiResult<Json<SnapshotView>> {
    Ok(Json(s.service.auditor_snapshot(&actor, &snapshot).await?))
}

async fn auditor_package(
    State(s): State<AppState>,
    AuditorActor(actor): AuditorActor,
    IdPath(snapshot): IdPath,
) -> ApiResult<Response> {
    let permit = s.gates.export(actor.org(), actor.audit_user_id())?;
    let package = s.service.auditor_package(&actor, &snapshot).await?;
    Ok(permit.hold_until_sent(stream_file(package)))
}
