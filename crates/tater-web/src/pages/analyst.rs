//! The AI analyst's chat page (issue 16 §3): the member's conversations, one conversation with
//! its messages and the changes the analyst proposed (each with its exact arguments, to
//! confirm or dismiss), and the question form. With JavaScript the answer streams into the
//! page (`assets/analyst.js` reads the same events as the REST API's); without, the form posts
//! and the page shows the answer when it is complete.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tater_service::{
    ActionState, ActionView, ConversationDetail, ConversationView, MessageInput, ServiceError,
    Speaker,
};

use super::actions::caller;
use super::{Layout, ListParams};
use crate::Web;
use crate::error::{PageError, PageResult};
use crate::session::{Posted, Signed};

pub const PATH: &str = "/app/analyst";

#[derive(Template, WebTemplate)]
#[template(path = "analyst_list.html")]
pub struct ListPage {
    layout: Layout,
    conversations: Vec<ConversationView>,
    next: Option<String>,
}

/// A message as the page shows it.
pub struct Said {
    pub mine: bool,
    pub text: String,
    pub tools: Vec<String>,
    pub at: String,
}

/// A proposed change as the page shows it.
pub struct Proposal {
    pub id: String,
    pub tool: String,
    /// Its arguments, as the JSON that would run (pretty-printed, escaped by the template).
    pub arguments: String,
    pub state: &'static str,
    pub pending: bool,
    pub result: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "analyst.html")]
pub struct ChatPage {
    layout: Layout,
    id: String,
    expires: String,
    tokens: i64,
    messages: Vec<Said>,
    proposals: Vec<Proposal>,
    /// What went wrong with the last question or decision.
    problem: Option<String>,
    /// The question to keep in the form when it could not be answered.
    question: String,
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn proposal(a: &ActionView) -> Proposal {
    let state = match a.state {
        ActionState::Proposed => "waiting for you",
        ActionState::Running => "running",
        ActionState::Confirmed => "done",
        ActionState::Failed => "refused",
        ActionState::Dismissed => "dismissed",
    };
    Proposal {
        id: a.id.to_string(),
        tool: a.tool.clone(),
        arguments: pretty(&a.arguments),
        state,
        pending: a.state == ActionState::Proposed,
        result: a.result.as_ref().map(pretty),
    }
}

fn said(detail: &ConversationDetail) -> Vec<Said> {
    detail
        .messages
        .iter()
        .map(|m| Said {
            mine: m.role == Speaker::User,
            text: m.text.clone(),
            tools: m.tool_calls.iter().map(|t| t.tool.clone()).collect(),
            at: m.at.to_string(),
        })
        .collect()
}

pub async fn list(
    State(web): State<Web>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> PageResult<ListPage> {
    let params = ListParams::parse(query.as_deref());
    let cursor = params.value("cursor");
    let page = web
        .service
        .list_ai_conversations(
            &signed.actor,
            Some(cursor.as_str()).filter(|c| !c.is_empty()),
            None,
        )
        .await?;
    Ok(ListPage {
        layout: Layout::new(&web, &signed, "AI analyst", "analyst").await?,
        next: page.next_cursor.map(|c| params.next_link(PATH, c)),
        conversations: page.items,
    })
}

#[derive(Deserialize)]
pub struct NoFields {}

/// Starts a conversation and opens it.
pub async fn create(State(web): State<Web>, posted: Posted<NoFields>) -> PageResult<Redirect> {
    let c = web
        .service
        .create_ai_conversation(&posted.signed.actor)
        .await?;
    Ok(Redirect::to(&format!("{PATH}/{}", c.id)))
}

async fn chat_page(
    web: &Web,
    signed: &Signed,
    id: &str,
    problem: Option<String>,
    question: String,
) -> PageResult<ChatPage> {
    let detail = web.service.get_ai_conversation(&signed.actor, id).await?;
    Ok(ChatPage {
        layout: Layout::new(web, signed, &detail.conversation.title, "analyst").await?,
        id: detail.conversation.id.to_string(),
        expires: detail.conversation.expires_at.date().to_string(),
        tokens: detail.conversation.input_tokens + detail.conversation.output_tokens,
        messages: said(&detail),
        proposals: detail.actions.iter().map(proposal).collect(),
        problem,
        question,
    })
}

pub async fn show(
    State(web): State<Web>,
    signed: Signed,
    Path(id): Path<String>,
) -> PageResult<ChatPage> {
    chat_page(&web, &signed, &id, None, String::new()).await
}

#[derive(Deserialize)]
pub struct AskForm {
    #[serde(default)]
    content: String,
}

/// What a refusal says on the page, when the page can still be shown (the rest are error
/// pages).
fn on_page(e: &ServiceError) -> Option<String> {
    match e {
        ServiceError::Validation(v) => Some(
            v.0.iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ServiceError::UnavailableCode(..) | ServiceError::ConflictCode(..) => Some(e.to_string()),
        ServiceError::ForbiddenCode(code, _) if *code != "FEATURE_DISABLED" => Some(e.to_string()),
        _ => None,
    }
}

/// A question: streamed when the page's script asks for events, else answered whole and the
/// conversation shown again.
pub async fn ask(
    State(web): State<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
    posted: Posted<AskForm>,
) -> PageResult<Response> {
    let signed = &posted.signed;
    let who = caller(signed);
    let input = MessageInput {
        content: posted.form.content.clone(),
    };
    let question = match web.service.prepare_ai_message(&who, &id, &input).await {
        Ok(q) => q,
        Err(e) => return refused(&web, signed, &id, e, posted.form.content.clone()).await,
    };
    if crate::analyst_stream::wants_events(&headers) {
        return Ok(crate::analyst_stream::respond(
            web.service.clone(),
            question,
            stream_problem,
        ));
    }
    match web.service.answer_ai_message(question, None).await {
        Ok(_) => Ok(Redirect::to(&format!("{PATH}/{id}#latest")).into_response()),
        Err(e) => refused(&web, signed, &id, e, posted.form.content.clone()).await,
    }
}

/// A refusal in the event stream; an internal error is logged (its cause is never shown).
fn stream_problem(e: ServiceError) -> serde_json::Value {
    if let ServiceError::Internal(cause) = &e {
        tracing::error!(error = ?cause, "the analyst's answer failed");
    }
    serde_json::json!({ "error": e.code(), "detail": e.to_string() })
}

/// The conversation again with what went wrong, the question kept; or the error page.
async fn refused(
    web: &Web,
    signed: &Signed,
    id: &str,
    e: ServiceError,
    question: String,
) -> PageResult<Response> {
    match on_page(&e) {
        Some(problem) => {
            let mut res = chat_page(web, signed, id, Some(problem), question)
                .await?
                .into_response();
            *res.status_mut() = axum::http::StatusCode::from_u16(e.status())
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
            Ok(res)
        }
        None => Err(PageError::from(e)),
    }
}

#[derive(Deserialize)]
pub struct DecisionForm {
    /// The conversation to go back to.
    #[serde(default)]
    conversation: String,
}

pub async fn confirm(
    State(web): State<Web>,
    Path(action): Path<String>,
    posted: Posted<DecisionForm>,
) -> PageResult<Response> {
    decide(&web, &action, posted, true).await
}

pub async fn dismiss(
    State(web): State<Web>,
    Path(action): Path<String>,
    posted: Posted<DecisionForm>,
) -> PageResult<Response> {
    decide(&web, &action, posted, false).await
}

/// Confirms or dismisses a proposed change, then shows its conversation again.
async fn decide(
    web: &Web,
    action: &str,
    posted: Posted<DecisionForm>,
    run: bool,
) -> PageResult<Response> {
    let signed = &posted.signed;
    let who = caller(signed);
    let done = if run {
        web.service.confirm_ai_action(&who, action).await
    } else {
        web.service.dismiss_ai_action(&who, action).await
    };
    match done {
        // Back to the action's own conversation, not to what the form said.
        Ok(view) => {
            Ok(Redirect::to(&format!("{PATH}/{}#actions", view.conversation)).into_response())
        }
        Err(e) => {
            let conversation = &posted.form.conversation;
            if conversation
                .parse::<tater_domain::ConversationId>()
                .is_err()
            {
                return Err(PageError::from(e));
            }
            refused(web, signed, conversation, e, String::new()).await
        }
    }
}

pub async fn delete(
    State(web): State<Web>,
    Path(id): Path<String>,
    posted: Posted<NoFields>,
) -> PageResult<Redirect> {
    web.service
        .delete_ai_conversation(&posted.signed.actor, &id)
        .await?;
    Ok(Redirect::to(PATH))
}
