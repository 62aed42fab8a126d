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
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    input_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ai_conversations_by_user ON ai_conversations (tenant_id, user_id, updated_at, id);
CREATE INDEX ai_conversations_by_age ON ai_conversations (tenant_id, updated_at);

CREATE TABLE ai_messages (
    tenant_id       TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    role            TEXT NOT NULL,
    content         JSONB NOT NULL,
    at              BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id, seq),
    FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES ai_conversations (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE ai_actions (
    tenant_id       TEXT NOT NULL,
    id              TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    tool            TEXT NOT NULL,
    arguments       JSONB NOT NULL,
    state           TEXT NOT NULL,
    result          JSONB,
    created_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES ai_conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_actions_by_conversation ON ai_actions (tenant_id, conversation_id, created_at);

ALTER TABLE ai_conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_conversations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_conversations
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

ALTER TABLE ai_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_messages
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');

ALTER TABLE ai_actions ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_actions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ai_actions
    USING (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on')
    WITH CHECK (tenant_id = current_setting('tater.tenant_id', true)
           OR current_setting('tater.cross_tenant', true) = 'on');
