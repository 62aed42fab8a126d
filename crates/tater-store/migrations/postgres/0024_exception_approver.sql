-- The member an organization designates as its exception approver (issue 15): the second
-- approver of High and Critical exceptions. An e-mail address of a member; not a role.
ALTER TABLE org_settings ADD COLUMN exception_approver TEXT;
