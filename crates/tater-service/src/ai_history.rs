//! A conversation's stored turns as the Messages API must receive them, whatever happened
//! to them: the window cut where a question starts (never at a tool result whose call fell
//! outside it), bounded by bytes, consecutive turns of one role joined, no empty text, no NUL
//! (which PostgreSQL refuses) — so a conversation never breaks for good.

use serde_json::Value;
use tater_anthropic::{Block, Message, Role};
use tater_domain::Timestamp;
use tater_store::AiTurn;

use crate::{ServiceError, ServiceResult};

/// The most of a conversation's history sent with a question, in bytes of stored JSON.
pub(crate) const HISTORY_BYTES: usize = 400 * 1024;

/// What an answer without any content is kept as (the API refuses an empty turn).
const NO_ANSWER: &str = "(no answer)";

/// A turn to store.
pub(crate) fn turn(role: &str, blocks: &[Block], at: Timestamp) -> ServiceResult<AiTurn> {
    let mut content = serde_json::to_value(blocks).map_err(|e| ServiceError::Internal(e.into()))?;
    without_nul(&mut content);
    Ok(AiTurn {
        seq: 0,
        role: role.into(),
        content,
        at,
    })
}

/// Every text of `value` without NUL characters.
pub(crate) fn without_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', ""),
        Value::Array(items) => items.iter_mut().for_each(without_nul),
        Value::Object(o) => o.values_mut().for_each(without_nul),
        _ => {}
    }
}

/// The model's answer as a turn to keep: empty text left out, and never no content at all.
pub(crate) fn answer_blocks(blocks: Vec<Block>) -> Vec<Block> {
    let mut kept: Vec<Block> = blocks
        .into_iter()
        .filter(|b| !matches!(b, Block::Text { text } if text.trim().is_empty()))
        .collect();
    if kept.is_empty() {
        kept.push(Block::Text {
            text: NO_ANSWER.into(),
        });
    }
    kept
}

fn starts_question(m: &Message) -> bool {
    m.role == Role::User
        && !m
            .content
            .iter()
            .any(|b| matches!(b, Block::ToolResult { .. }))
}

/// The last of `turns` that fit in [`HISTORY_BYTES`].
pub(crate) fn recent(turns: Vec<AiTurn>) -> Vec<AiTurn> {
    let mut size = 0usize;
    let mut keep = turns.len();
    for (i, t) in turns.iter().enumerate().rev() {
        size += t.content.to_string().len();
        if size > HISTORY_BYTES {
            break;
        }
        keep = i;
    }
    turns.into_iter().skip(keep).collect()
}

/// The stored turns as the Messages API takes them: consecutive turns of one role joined
/// (a round's tool results and the member's next question are one user turn), empty text
/// left out, and the window starting at a question (a tool result whose call was cut off, or
/// an answer without its question, would be refused).
pub(crate) fn api_messages(turns: &[AiTurn]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    for t in turns {
        let role = if t.role == "assistant" {
            Role::Assistant
        } else {
            Role::User
        };
        let blocks: Vec<Block> = serde_json::from_value::<Vec<Block>>(t.content.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|b| match b {
                Block::Text { text } => !text.trim().is_empty(),
                Block::Unknown => false,
                _ => true,
            })
            .collect();
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => out.push(Message {
                role,
                content: blocks,
            }),
        }
    }
    let start = out.iter().position(starts_question).unwrap_or(out.len());
    out.split_off(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(role: &str, content: Value) -> AiTurn {
        AiTurn {
            seq: 0,
            role: role.into(),
            content,
            at: Timestamp::from_millis(0),
        }
    }

    fn question(text: &str) -> AiTurn {
        t("user", json!([{ "type": "text", "text": text }]))
    }

    fn call(id: &str) -> AiTurn {
        t(
            "assistant",
            json!([{ "type": "tool_use", "id": id, "name": "get_posture", "input": {} }]),
        )
    }

    fn result(id: &str) -> AiTurn {
        t(
            "user",
            json!([{ "type": "tool_result", "tool_use_id": id, "content": "{}" }]),
        )
    }

    fn reply(text: &str) -> AiTurn {
        t("assistant", json!([{ "type": "text", "text": text }]))
    }

    #[test]
    fn a_window_never_starts_at_a_tool_result_or_an_answer() {
        let turns = vec![
            call("a"),
            result("a"),
            reply("done"),
            question("next"),
            reply("ok"),
        ];
        let msgs = api_messages(&turns);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].role, Role::User);
        assert!(starts_question(&msgs[0]));
    }

    #[test]
    fn results_and_the_next_question_are_one_user_turn() {
        let turns = vec![
            question("q1"),
            call("a"),
            result("a"),
            t("note", json!([{ "type": "text", "text": "decided" }])),
            question("q2"),
        ];
        let msgs = api_messages(&turns);
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[2].content.len(), 3, "{:?}", msgs[2]);
        assert!(matches!(msgs[2].content[0], Block::ToolResult { .. }));
    }

    #[test]
    fn empty_and_unknown_content_is_never_sent() {
        let turns = vec![
            question("q"),
            t(
                "assistant",
                json!([{ "type": "text", "text": "" }, { "type": "thinking", "thinking": "x" }]),
            ),
            question("again"),
        ];
        let msgs = api_messages(&turns);
        assert_eq!(
            msgs.len(),
            1,
            "the empty answer is dropped, the questions join"
        );
        assert_eq!(msgs[0].content.len(), 2);
        assert_eq!(
            answer_blocks(vec![Block::Text { text: " ".into() }]),
            vec![Block::Text {
                text: NO_ANSWER.into()
            }]
        );
    }

    #[test]
    fn the_history_sent_is_bounded_in_bytes() {
        let big = "x".repeat(100 * 1024);
        let turns: Vec<AiTurn> = (0..10).map(|_| question(&big)).collect();
        let kept = recent(turns);
        assert_eq!(
            kept.len(),
            3,
            "three 100 KiB turns fit in 400 KiB, four do not"
        );
    }

    #[test]
    fn nul_characters_are_not_stored() {
        let stored = turn(
            "assistant",
            &[Block::Text {
                text: "a\0b".into(),
            }],
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert_eq!(stored.content, json!([{ "type": "text", "text": "ab" }]));
    }
}
