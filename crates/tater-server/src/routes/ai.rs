//! The AI analyst (issue 16 §3): a member's conversations, their questions (answered as
//! server-sent events, or as one JSON document when the request asks for JSON) and their
//! decisions on the changes the analyst proposes; and the Evidence Agent's jobs.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tater_service::use_cases::Paging;
use tater_service::{
    ActionView, ConversationDetail, ConversationView, EvidenceJobInput, EvidenceJobView,
    MessageInput, Page,
};

use crate::api_doc::{ApiRouter, Op};
use crate::error::{ApiResult, Problem};
use crate::extract::{AuthActor, AuthCaller, IdPath, JsonBody, QueryInput};
use crate::state::AppState;

pub fn routes(api: ApiRouter) -> ApiRouter {
    evidence_jobs(api).route(
        Op::post("/api/ai/conversations", "ai_conversations_create")
            .tag("ai")
            .problem(403, "The AI features are off (FEATURE_DISABLED)")
            .ok(201, "The conversation", None),
        post(create),
    )
    .route(
        Op::get("/api/ai/conversations", "ai_conversations_list")
            .tag("ai")
            .ok(200, "Your conversations, the latest first", None),
        get(list),
    )
    .route(
        Op::get("/api/ai/conversations/{id}", "ai_conversations_get")
            .tag("ai")
            .ok(200, "The conversation, its messages and proposed changes", None),
        get(one),
    )
    .route(
        Op::delete("/api/ai/conversations/{id}", "ai_conversations_delete")
            .tag("ai")
            .ok(204, "Deleted with everything said in it", None),
        axum::routing::delete(delete),
    )
    .route(
        Op::post("/api/ai/conversations/{id}/messages", "ai_messages_create")
            .tag("ai")
            .problem(403, "The AI features are off (FEATURE_DISABLED)")
            .problem(409, "The analyst is still answering this conversation (CONVERSATION_BUSY)")
            .problem(
                502,
                "Anthropic refused the key (AI_KEY_REJECTED) or the request (AI_REQUEST_REFUSED)",
            )
            .problem(
                503,
                "Anthropic's API could not answer for now (AI_UNAVAILABLE); the rounds completed before it stay in the conversation",
            )
            .ok(
                200,
                "Server-sent events (`text`, `tool`, `action`, then `done` with the JSON document, or `error` with a problem); the JSON document itself with `Accept: application/json`",
                None,
            )
            .ok_content("text/event-stream", json!({ "type": "string" })),
        post(message),
    )
    .route(
        Op::post("/api/ai/actions/{id}/confirm", "ai_actions_confirm")
            .tag("ai")
            .problem(
                409,
                "The action was decided already (ALREADY_DECIDED)",
            )
            .ok(200, "The action, run", None),
        post(confirm),
    )
    .route(
        Op::post("/api/ai/actions/{id}/dismiss", "ai_actions_dismiss")
            .tag("ai")
            .problem(
                409,
                "The action was decided already (ALREADY_DECIDED)",
            )
            .ok(200, "The action, dismissed", None),
        post(dismiss),
    )
}

fn evidence_jobs(api: ApiRouter) -> ApiRouter {
    api.route(
        Op::post("/api/ai/evidence-jobs", "ai_evidence_jobs_create")
            .tag("ai")
            .problem(
                403,
                "The AI features are off, or no key is set (FEATURE_DISABLED)",
            )
            .ok(201, "The job, queued", None),
        post(create_job),
    )
    .route(
        Op::get("/api/ai/evidence-jobs", "ai_evidence_jobs_list")
            .tag("ai")
            .ok(200, "The organization's jobs, the newest first", None),
        get(list_jobs),
    )
    .route(
        Op::get("/api/ai/evidence-jobs/{id}", "ai_evidence_jobs_get")
            .tag("ai")
            .ok(200, "The job", None),
        get(one_job),
    )
    .route(
        Op::post(
            "/api/ai/evidence-jobs/{id}/cancel",
            "ai_evidence_jobs_cancel",
        )
        .tag("ai")
        .ok(200, "The job, cancelled (or as it finished)", None),
        post(cancel_job),
    )
}

async fn create_job(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    JsonBody(body): JsonBody<EvidenceJobInput>,
) -> ApiResult<(StatusCode, Json<EvidenceJobView>)> {
    let job = s.service.create_evidence_job(&actor, &body).await?;
    Ok((StatusCode::CREATED, Json(job)))
}

async fn list_jobs(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<Paging>,
) -> ApiResult<Json<Page<EvidenceJobView>>> {
    Ok(Json(
        s.service
            .list_evidence_jobs(&actor, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

async fn one_job(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<EvidenceJobView>> {
    Ok(Json(s.service.get_evidence_job(&actor, &id).await?))
}

async fn cancel_job(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<EvidenceJobView>> {
    Ok(Json(s.service.cancel_evidence_job(&actor, &id).await?))
}

async fn create(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<(StatusCode, Json<ConversationView>)> {
    let created = s.service.create_ai_conversation(&actor).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<Paging>,
) -> ApiResult<Json<Page<ConversationView>>> {
    Ok(Json(
        s.service
            .list_ai_conversations(&actor, q.cursor.as_deref(), q.limit)
            .await?,
    ))
}

async fn one(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<ConversationDetail>> {
    Ok(Json(s.service.get_ai_conversation(&actor, &id).await?))
}

async fn delete(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    s.service.delete_ai_conversation(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the request asks for the one JSON document rather than the event stream.
fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("application/json") && !accept.contains("text/event-stream")
}

async fn message(
    State(s): State<AppState>,
    AuthCaller(caller): AuthCaller,
    IdPath(id): IdPath,
    headers: HeaderMap,
    JsonBody(body): JsonBody<MessageInput>,
) -> ApiResult<Response> {
    if wants_json(&headers) {
        let exchange = s.service.post_ai_message(&caller, &id, &body, None).await?;
        return Ok(Json(exchange).into_response());
    }
    // Refusals are answered as problems before the stream starts.
    let question = s.service.prepare_ai_message(&caller, &id, &body).await?;
    Ok(tater_web::analyst_stream::respond(
        s.service.clone(),
        question,
        |e| Problem::from(e).body(None),
    ))
}

async fn confirm(
    State(s): State<AppState>,
    AuthCaller(caller): AuthCaller,
    IdPath(id): IdPath,
) -> ApiResult<Json<ActionView>> {
    Ok(Json(s.service.confirm_ai_action(&caller, &id).await?))
}

async fn dismiss(
    State(s): State<AppState>,
    AuthCaller(caller): AuthCaller,
    IdPath(id): IdPath,
) -> ApiResult<Json<ActionView>> {
    Ok(Json(s.service.dismiss_ai_action(&caller, &id).await?))
}
