-- Which MCP tools an organization offers, per role (issue 13 §4): a JSON document
-- (`{"mode", "disabledTools", "roleAllowlists"}`) its OrgAdmins set; null means permissive
-- with nothing disabled.
ALTER TABLE org_settings ADD COLUMN mcp_policy TEXT;
