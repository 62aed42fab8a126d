-- The AI analyst's conversations (issue 16 §3): each belongs to one member, holds the turns
-- exchanged with the model (prompts, replies, tool calls and their results, as the Messages
-- API's JSON) and the write actions the model proposed, which run only when the member
-- confirms one. These rows are the only place prompts and replies are kept; the runner
-- deletes a conversation once it has been idle for the retention period.
CREATE TABLE ai_conversations (
    tenant_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    title         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ai_conversations_by_user ON ai_conversations (tenant_id, user_id, updated_at, id);
CREATE INDEX ai_conversations_by_age ON ai_conversations (tenant_id, updated_at);

CREATE TABLE ai_messages (
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq             INTEGER NOT NULL,
    role            TEXT NOT NULL,
    content         TEXT NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id, seq),
    FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES ai_conversations (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE ai_actions (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    tool            TEXT NOT NULL,
    arguments       TEXT NOT NULL,
    state           TEXT NOT NULL,
    result          TEXT,
    created_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES ai_conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_actions_by_conversation ON ai_actions (tenant_id, conversation_id, created_at);
