//! The command channel: run scripts or remediations on endpoints (Admin, when the
//! organization allows remote execution), follow jobs, and the agent's side of it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use tater_service::{AgentCommand, Items, JobView, Page, Remediation};

use crate::api_doc::{Access, ApiRouter, Op};
use crate::error::ApiResult;
use crate::extract::{AuthActor, IdPath, JsonBody, QueryInput};
use crate::state::AppState;
use tater_domain::Action;
use tater_service::use_cases::Paging;

pub fn routes(mut api: ApiRouter) -> ApiRouter {
    let commands_doc = api.schema_of::<Items<AgentCommand>>();
    api.route(
        Op::post("/api/scripts/{id}/execute", "scripts_execute")
            .tag("commands")
            .ok(201, "The job", None),
        post(execute),
    )
    .route(
        Op::post("/api/controls/{id}/remediate", "controls_remediate")
            .tag("commands")
            .ok(200, "The jobs started, and the failing checks without a script", None),
        post(remediate),
    )
    .route(
        Op::get("/api/jobs", "jobs_list").tag("commands")
            .ok(200, "A page of jobs", None),
        get(list_jobs),
    )
    .route(
        Op::get("/api/jobs/{id}", "jobs_get").tag("commands")
            .ok(200, "The job", None),
        get(get_job),
    )
    .route(
        Op::post("/api/jobs/{id}/cancel", "jobs_cancel")
            .tag("commands")
            .ok(200, "The job, its pending targets now `cancelled`", None),
        post(cancel),
    )
    .route(
        Op::get("/api/agent/commands", "agent_commands").summary("An agent's pending commands (agent credential); they are marked sent").outside_registry().tag("agent").access(Access::Action(Action::AgentReport))
            .ok(200, "The commands to run", Some(commands_doc)),
        get(commands),
    )
    .route(
        Op::post("/api/agent/commands/{id}/result", "agent_command_result").summary("An agent reports a command's outcome (agent credential)").outside_registry().tag("agent").access(Access::Action(Action::AgentReport)).path_id()
            .body(json!({ "type": "object", "required": ["status"], "properties": { "status": { "enum": ["succeeded", "failed", "timedOut", "refused"] }, "exitCode": { "type": "integer" }, "stdout": { "type": "string" }, "stderr": { "type": "string" }, "durationMs": { "type": "integer" }, "reason": { "type": "string" } } }))
            .ok(204, "Recorded", None)
            .problem(409, "The command takes no result now: reported already, or ended by the server (CONFLICT)"),
        post(command_result),
    )
}

async fn list_jobs(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    QueryInput(q): QueryInput<Paging>,
) -> ApiResult<Json<Page<JobView>>> {
    Ok(Json(s.service.list_jobs(&actor, &q).await?))
}

async fn cancel(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<JobView>> {
    Ok(Json(s.service.cancel_job(&actor, &id).await?))
}

async fn execute(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.service.execute_script(&actor, &id, &body).await?),
    ))
}

async fn remediate(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    Path(id): Path<String>,
) -> ApiResult<Json<Remediation>> {
    Ok(Json(s.service.remediate_control(&actor, &id).await?))
}

async fn get_job(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
) -> ApiResult<Json<JobView>> {
    Ok(Json(s.service.get_job(&actor, &id).await?))
}

async fn commands(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
) -> ApiResult<Json<Items<AgentCommand>>> {
    let items = s.service.agent_commands(&actor).await?;
    Ok(Json(Items { items }))
}

async fn command_result(
    State(s): State<AppState>,
    AuthActor(actor): AuthActor,
    IdPath(id): IdPath,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<StatusCode> {
    s.service.agent_command_result(&actor, &id, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
