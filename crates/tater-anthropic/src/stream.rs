//! A streamed answer: the server-sent events of the Messages API and the assembly of the
//! whole message from them. Unknown events and deltas are skipped; an `error` event, a line
//! that is not JSON, or a stream that ends before `message_stop` is an error — never a
//! silently shortened answer.

use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::wire::{Block, ErrorDetail, Response, StopReason, Usage};

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    MessageStart {
        message: Response,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta,
        #[serde(default)]
        usage: Option<Usage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorDetail,
    },
    #[serde(other)]
    Unknown,
}

/// A piece of a content block.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MessageDelta {
    pub stop_reason: Option<StopReason>,
}

/// Reads one event's `data`.
pub fn parse(data: &str) -> Result<Event, Error> {
    serde_json::from_str(data).map_err(|e| Error::Stream(format!("an event is not valid: {e}")))
}

/// Builds the whole message from the events, in order.
#[derive(Debug, Default)]
pub struct Assembler {
    message: Option<Response>,
    /// Tool inputs arrive as pieces of JSON text, per block index.
    partial_json: Vec<(usize, String)>,
    stopped: bool,
}

impl Assembler {
    /// Takes the next event; the text it adds, if any (for showing the answer as it comes).
    pub fn push(&mut self, event: Event) -> Result<Option<String>, Error> {
        match event {
            Event::MessageStart { message } => self.message = Some(message),
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                let m = self.started()?;
                if index != m.content.len() {
                    return Err(Error::Stream(format!("block {index} out of order")));
                }
                m.content.push(content_block);
            }
            Event::ContentBlockDelta { index, delta } => return self.delta(index, delta),
            Event::ContentBlockStop { index } => self.block_stop(index)?,
            Event::MessageDelta { delta, usage } => {
                let m = self.started()?;
                m.stop_reason = delta.stop_reason.or(m.stop_reason);
                if let Some(u) = usage {
                    m.usage.output_tokens = u.output_tokens;
                    if u.input_tokens > 0 {
                        m.usage.input_tokens = u.input_tokens;
                    }
                }
            }
            Event::MessageStop => self.stopped = true,
            Event::Ping | Event::Unknown => {}
            Event::Error { error } => {
                return Err(Error::Api {
                    status: 200,
                    kind: error.kind,
                    message: error.message,
                });
            }
        }
        Ok(None)
    }

    fn started(&mut self) -> Result<&mut Response, Error> {
        self.message
            .as_mut()
            .ok_or_else(|| Error::Stream("an event came before message_start".into()))
    }

    fn delta(&mut self, index: usize, delta: Delta) -> Result<Option<String>, Error> {
        let m = self.started()?;
        let block = m
            .content
            .get_mut(index)
            .ok_or_else(|| Error::Stream(format!("a delta for block {index}, never started")))?;
        match (block, delta) {
            (Block::Text { text }, Delta::TextDelta { text: more }) => {
                text.push_str(&more);
                Ok(Some(more))
            }
            (Block::ToolUse { .. }, Delta::InputJsonDelta { partial_json }) => {
                match self.partial_json.iter_mut().find(|(i, _)| *i == index) {
                    Some((_, json)) => json.push_str(&partial_json),
                    None => self.partial_json.push((index, partial_json)),
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn block_stop(&mut self, index: usize) -> Result<(), Error> {
        let Some(at) = self.partial_json.iter().position(|(i, _)| *i == index) else {
            return Ok(());
        };
        let (_, json) = self.partial_json.swap_remove(at);
        let value: Value = if json.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(&json)
                .map_err(|e| Error::Stream(format!("a tool call's input is not JSON: {e}")))?
        };
        if let Some(Block::ToolUse { input, .. }) = self.started()?.content.get_mut(index) {
            *input = value;
        }
        Ok(())
    }

    /// The whole message, once `message_stop` came.
    pub fn finish(self) -> Result<Response, Error> {
        match (self.message, self.stopped) {
            (Some(m), true) => Ok(m),
            _ => Err(Error::Stream("the stream ended before message_stop".into())),
        }
    }
}
