-- One question at a time per analyst conversation, across every server (issue 16): the
-- server answering a question holds the conversation until `busy_until`; a second question
-- meanwhile is refused. A server that dies mid-answer gives the conversation back when the
-- lease runs out.
ALTER TABLE ai_conversations ADD COLUMN busy_until BIGINT;
