//! Verifying the owner of the API key in use by an emailed code (MCP writes need it; see
//! `tater_service::identity_verification`). REST serves the same use cases as the MCP tools
//! `request_identity_verification` and `verify_identity`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tater_service::{IdentityVerified, VerificationSent, VerifyIdentity};

use crate::api_doc::{ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthCaller, JsonBody};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::post(
            "/api/me/verification-codes",
            "identity_verification_request",
        )
        .tag("identity")
        .problem(
            409,
            "The credential is a session, verified already (ALREADY_VERIFIED)",
        )
        .problem(
            429,
            "Three codes for this key in 15 minutes, or ten for this person in a day (TOO_MANY_CODES)",
        )
        .problem(
            403,
            "This server sends no email (EMAIL_NOT_CONFIGURED): MCP writes need a session here",
        )
        .problem(
            503,
            "The mail relay refused or did not answer (EMAIL_FAILED)",
        )
        .ok(
            201,
            "The code is on its way to the key owner's address",
            None,
        ),
        post(request),
    )
    .route(
        Op::post("/api/me/verification", "identity_verification_verify")
            .tag("identity")
            .problem(
                409,
                "No code is waiting: expired, used, or out of tries (NO_ACTIVE_CODE)",
            )
            .ok(200, "Verified until the time returned", None),
        post(verify),
    )
}

async fn request(
    State(s): State<AppState>,
    AuthCaller(c): AuthCaller,
) -> ApiResult<(StatusCode, Json<VerificationSent>)> {
    let sent = s
        .service
        .request_identity_verification(&c.identity, &c.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(sent)))
}

async fn verify(
    State(s): State<AppState>,
    AuthCaller(c): AuthCaller,
    JsonBody(body): JsonBody<VerifyIdentity>,
) -> ApiResult<Json<IdentityVerified>> {
    Ok(Json(
        s.service
            .verify_identity(&c.identity, &c.actor, &body.code)
            .await?,
    ))
}
