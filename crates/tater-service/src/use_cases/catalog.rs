//! The use cases that are not module records, by area.

use serde_json::{Value, json};
use tater_domain::Action;
use tater_domain::module::{input_schema, output_schema};
use tater_domain::modules::{CHANGE_REQUESTS, CONTROL_OVERLAYS, RISKS, SCRIPTS, SYSTEM_PROFILE};

use super::invoke::{self, json, nothing};
use super::modules::record_name;
use super::{Gate, Shape, UseCase, declared, inputs::*};
use crate::{
    ApiKeyView, CheckView, CreatedApiKey, CreatedEnrollmentToken, DeadLetterView, DestinationView,
    EndpointDetail, EndpointView, EnrollmentTokenView, ExportList, FrameworkView, IdentityVerified,
    InvitationView, Items, JobView, Joined, McpPolicy, MeView, MemberView, OrgView, Page,
    ReceivedInvitation, Remediation, Replayed, TestDelivery, VerificationSent, VerifyIdentity,
};

const READ: Gate = Gate::Action(Action::Read);
const WRITE: Gate = Gate::Action(Action::WriteRecord);
const AUDIT: Gate = Gate::Action(Action::ReadAudit);
const SETTINGS: Gate = Gate::Action(Action::ManageSettings);
const MEMBERS: Gate = Gate::Action(Action::ManageMembers);
const KEYS: Gate = Gate::Action(Action::ManageKeys);
const CROSS_ORG: Gate = Gate::Action(Action::CrossOrg);
const CONVERSE: Gate = Gate::Action(Action::Converse);

/// Media types of a list export.
const LIST_FILES: &[&str] = &["application/json", "text/csv"];

pub(super) fn use_cases() -> Vec<UseCase> {
    [
        platform(),
        identity(),
        members(),
        endpoints(),
        commands(),
        controls(),
        posture(),
        federal(),
        audit(),
        siem(),
        list_exports(),
        config_docs(),
        audits(),
        evidence_files(),
        policies(),
        analyst(),
        evidence_agent(),
        change_management(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn platform() -> Vec<UseCase> {
    vec![
        UseCase::read(
            "status",
            "Version, database engine and uptime",
            Gate::Public,
        )
        .tool("get_server_status")
        .gives::<crate::StatusView>(),
        UseCase::read("security_txt", "RFC 9116 security contact", Gate::Public)
            .tool("get_security_contact")
            .gives_file(&["text/plain"]),
        UseCase::read(
            "security_policy",
            "The vulnerability disclosure policy (how to report, response times, safe harbour)",
            Gate::Public,
        )
        .tool("get_security_policy")
        .gives_file(&["text/markdown"]),
        UseCase::read(
            "platform_signing_key",
            "The platform's Ed25519 public key (PEM), which checks deletion certificates",
            Gate::Public,
        )
        .tool("get_platform_signing_key")
        .gives_file(&["application/x-pem-file"]),
        UseCase::read(
            "cross_org_list_organizations",
            "Cross-organization: every organization on this server",
            CROSS_ORG,
        )
        .tool("list_organizations")
        .runs(json(|s, c, _: NoInput| async move {
            s.cross_org_list_organizations(&c.actor).await
        }))
        .gives::<Items<OrgView>>(),
        UseCase::read(
            "cross_org_page_views",
            "Cross-organization: web application page views per organization and page (90 days)",
            CROSS_ORG,
        )
        .tool("list_page_views")
        .runs(json(|s, c, _: NoInput| async move {
            s.cross_org_page_views(&c.actor).await
        }))
        .gives::<Items<crate::PageViewCount>>(),
        UseCase::write(
            "cross_org_create_organization",
            "Cross-organization: create an organization (you become its OrgAdmin)",
            CROSS_ORG,
        )
        .tool("create_organization")
        .runs(json(|s, c, i: CreateOrganization| async move {
            s.cross_org_create_organization(&c.actor, &i.name, i.entra_tenant_id.as_deref())
                .await
        }))
        .takes::<CreateOrganization>()
        .gives::<OrgView>(),
        UseCase::read(
            "cross_org_usage",
            "Cross-organization: each organization's members, endpoints, records per module, \
             stored file bytes, audit entries, last activity and status (active, or terminated \
             with its delete date)",
            CROSS_ORG,
        )
        .tool("list_organization_usage")
        .runs(json(|s, c, _: NoInput| async move { s.cross_org_usage(&c.actor).await }))
        .gives::<Items<crate::OrgUsageView>>(),
        UseCase::write(
            "cross_org_terminate_organization",
            "Cross-organization: terminate an organization — every credential, session, agent \
             and MCP/AI call of it is refused at once (its OrgAdmins keep the full export), and \
             every row and file of it is deleted when the grace period ends, with a signed \
             deletion certificate",
            CROSS_ORG,
        )
        .tool("terminate_organization")
        .runs(json(|s, c, i: ById| async move {
            s.cross_org_terminate_organization(&c.actor, &i.id).await
        }))
        .destructive()
        .takes::<ById>()
        .gives::<OrgView>(),
        UseCase::write(
            "cross_org_cancel_termination",
            "Cross-organization: lift an organization's termination during its grace period",
            CROSS_ORG,
        )
        .tool("cancel_organization_termination")
        .runs(json(|s, c, i: ById| async move {
            s.cross_org_cancel_termination(&c.actor, &i.id).await
        }))
        .takes::<ById>()
        .gives::<OrgView>(),
        UseCase::read(
            "cross_org_deletion_certificate",
            "Cross-organization: the signed certificate of a deleted organization's deletion \
             (rows per table, files, time; Ed25519, checked with the key at \
             /.well-known/tater-signing-key)",
            CROSS_ORG,
        )
        .tool("get_deletion_certificate")
        .runs(json(|s, c, i: ById| async move {
            s.cross_org_deletion_certificate(&c.actor, &i.id).await
        }))
        .takes::<ById>()
        .gives::<crate::DeletionCertificateView>(),
        UseCase::read(
            "data_export",
            "Everything the organization holds, as a zip of JSON files with a manifest (audited)",
            Gate::Action(Action::ExportAll),
        )
        .tool("export_organization_data")
        .gives_file(&["application/zip"]),
        UseCase::read("settings_get", "The organization's settings", READ)
            .tool("get_settings")
            .runs(json(|s, c, _: NoInput| async move {
                s.get_settings(&c.actor).await
            }))
            .gives::<OrgSettings>(),
        UseCase::write(
            "settings_update",
            "Change the organization's settings (audited)",
            SETTINGS,
        )
        .tool("update_settings")
        .runs(json(|s, c, i: OrgSettings| async move {
            s.update_settings(&c.actor, &i).await
        }))
        .idempotent()
        .takes::<OrgSettings>()
        .gives::<OrgSettings>(),
        UseCase::read(
            "mcp_policy_get",
            "Which MCP tools the organization offers, per role",
            SETTINGS,
        )
        .tool("get_mcp_policy")
        .runs(json(|s, c, _: NoInput| async move { s.get_mcp_policy(&c.actor).await }))
        .gives::<McpPolicy>(),
        UseCase::write(
            "mcp_policy_update",
            "Set which MCP tools the organization offers: permissive (every tool a role allows, minus disabledTools) or strict (only each role's allowlist, minus disabledTools); audited",
            SETTINGS,
        )
        .tool("set_mcp_policy")
        .runs(json(|s, c, i: McpPolicy| async move {
            s.update_mcp_policy(&c.actor, i).await
        }))
        .idempotent()
        .takes::<McpPolicy>()
        .gives::<McpPolicy>(),
        UseCase::read(
            "retention_get",
            "How long the organization keeps page views, AI conversations, Evidence Agent jobs, ended enrollment tokens, SIEM dead letters, audit entries and finished records: each period as it applies, its default and the bounds the operator allows",
            AUDIT,
        )
        .tool("get_retention_policy")
        .runs(json(|s, c, _: NoInput| async move { s.get_retention(&c.actor).await }))
        .gives::<crate::RetentionView>(),
        UseCase::write(
            "retention_update",
            "Set how long the organization keeps each kind of data (days; a period left out is its default, auditLogDays left out keeps audit entries for ever). Shortening a period deletes what is older at the next hourly sweep; audited",
            SETTINGS,
        )
        .tool("set_retention_policy")
        .runs(json(|s, c, i: crate::RetentionPolicy| async move {
            s.update_retention(&c.actor, i).await
        }))
        .idempotent()
        .destructive()
        .takes::<crate::RetentionPolicy>()
        .gives::<crate::RetentionView>(),
        UseCase::read(
            "ai_settings_get",
            "The organization's AI configuration: whether it is on, whose Anthropic key it uses (never the key), and its model",
            SETTINGS,
        )
        .tool("get_ai_settings")
        .runs(json(|s, c, _: NoInput| async move { s.get_ai_settings(&c.actor).await }))
        .gives::<crate::AiSettingsView>(),
        UseCase::write(
            "ai_settings_update",
            "Set the organization's own Anthropic API key (stored sealed, never shown again) and model; a key left out stays (audited without the key)",
            SETTINGS,
        )
        .tool("set_ai_settings")
        .runs(json(|s, c, i: AiSettingsInput| async move {
            s.put_ai_settings(&c.actor, &i).await
        }))
        .idempotent()
        .takes::<AiSettingsInput>()
        .gives::<crate::AiSettingsView>(),
        UseCase::delete(
            "ai_settings_delete",
            "Forget the organization's Anthropic API key and model choice (audited)",
            SETTINGS,
        )
        .tool("delete_ai_settings")
        .runs(json(|s, c, _: NoInput| async move { s.delete_ai_settings(&c.actor).await }))
        .destructive()
        .idempotent()
        .gives::<crate::AiSettingsView>(),
    ]
}

fn identity() -> Vec<UseCase> {
    vec![
        UseCase::read(
            "me",
            "The caller's account, memberships and active organization",
            Gate::Signed,
        )
            .tool("get_current_user")
            .runs(json(|s, c, _: NoInput| async move { s.me(&c.identity, Some(&c.actor)).await }))
        .gives::<MeView>(),
        UseCase::read(
            "invitations_mine",
            "Open invitations addressed to your account, in every organization",
            Gate::Signed,
        )
            .tool("list_my_invitations")
            .runs(json(|s, c, _: NoInput| async move { s.my_invitations(&c.identity).await.map(|items| Items { items }) }))
        .gives::<Items<ReceivedInvitation>>(),
        UseCase::write(
            "invitations_accept",
            "Join the organization with the invited role (not with a key bound to another organization); audited there",
            Gate::Signed,
        )
            .tool("accept_invitation")
            .runs(json(|s, c, i: ById| async move { s.accept_invitation(&c.identity, &i.id).await }))
        .takes::<ById>()
        .gives::<Joined>(),
        UseCase::write(
            "invitations_decline",
            "Turn an invitation down; the organization sees it declined",
            Gate::Signed,
        )
            .tool("decline_invitation")
            .runs(nothing(|s, c, i: ById| async move { s.decline_invitation(&c.identity, &i.id).await }))
        .takes::<ById>(),
        UseCase::read(
            "api_keys_list",
            "API keys that can act in the organization",
            KEYS,
        )
            .tool("list_api_keys")
            .runs(json(|s, c, _: NoInput| async move { s.list_api_keys(&c.actor).await }))
        .gives::<Items<ApiKeyView>>(),
        UseCase::write(
            "api_keys_create",
            "Create an API key for yourself, bound to the organization; the key is shown once",
            KEYS,
        )
            .tool("create_api_key")
            .runs(json(|s, c, i: CreateApiKey| async move { s.create_api_key(&c.actor, &i.name, i.role, i.expires_at).await }))
        .takes::<CreateApiKey>()
        .gives::<CreatedApiKey>(),
        UseCase::delete(
            "api_keys_revoke",
            "Revoke a key, with immediate effect",
            KEYS,
        )
            .tool("revoke_api_key")
            .runs(nothing(|s, c, i: ById| async move { s.revoke_api_key(&c.actor, &i.id).await }))
        .takes::<ById>(),
        UseCase::write(
            "identity_verification_request",
            "Email a 6-digit code to the owner of the API key in use; entering it (verify_identity) lets the key make changes through MCP for a while. At most 3 codes per 15 minutes",
            READ,
        )
            .tool("request_identity_verification")
            .identity_step()
            .open_world()
            .runs(json(|s, c, _: NoInput| async move { s.request_identity_verification(&c.identity, &c.actor).await }))
        .gives::<VerificationSent>(),
        UseCase::write(
            "identity_verification_verify",
            "Enter the emailed code: the API key in use may then make changes through MCP until the returned time (5 tries per code, 10 minutes)",
            READ,
        )
            .tool("verify_identity")
            .identity_step()
            .idempotent()
            .runs(json(|s, c, i: VerifyIdentity| async move { s.verify_identity(&c.identity, &c.actor, &i.code).await }))
        .takes::<VerifyIdentity>()
        .gives::<IdentityVerified>(),
    ]
}

fn members() -> Vec<UseCase> {
    vec![
        UseCase::read("members_list", "Members of the organization", MEMBERS)
            .tool("list_members")
            .runs(json(|s, c, _: NoInput| async move { s.list_members(&c.actor).await.map(|items| Items { items }) }))
            .gives::<Items<MemberView>>(),
        UseCase::write(
            "members_invite",
            "Invite a person by email with a role (never above your own). Nobody joins until they accept: the answer is the pending invitation, the same whether or not the address has an account",
            MEMBERS,
        )
            .tool("invite_member")
            .runs(json(|s, c, i: InviteMember| async move { s.invite_member(&c.actor, &i.email, i.role).await }))
        .takes::<InviteMember>()
        .gives::<InvitationView>(),
        UseCase::read(
            "members_invitations",
            "The organization's invitations, newest first, with their status",
            MEMBERS,
        )
            .tool("list_member_invitations")
            .runs(json(|s, c, _: NoInput| async move { s.list_invitations(&c.actor).await.map(|items| Items { items }) }))
        .gives::<Items<InvitationView>>(),
        UseCase::delete(
            "members_invitation_revoke",
            "Withdraw a pending invitation",
            MEMBERS,
        )
            .tool("revoke_invitation")
            .runs(nothing(|s, c, i: ById| async move { s.revoke_invitation(&c.actor, &i.id).await }))
        .takes::<ById>(),
        UseCase::write(
            "members_change_role",
            "Change a member's role; the last OrgAdmin cannot be demoted",
            MEMBERS,
        )
            .tool("change_member_role")
            .runs(json(|s, c, i: ChangeRole| async move { s.change_member_role(&c.actor, &i.id, i.role).await }))
            .idempotent()
        .takes::<ChangeRole>()
        .gives::<MemberView>(),
        UseCase::delete(
            "members_remove",
            "Remove a member; the last OrgAdmin cannot be removed",
            MEMBERS,
        )
            .tool("remove_member")
            .runs(nothing(|s, c, i: ById| async move { s.remove_member(&c.actor, &i.id).await }))
        .takes::<ById>(),
    ]
}

fn endpoints() -> Vec<UseCase> {
    vec![
        UseCase::write(
            "enrollment_tokens_create",
            "Create an enrollment token (shown once)",
            WRITE,
        )
            .tool("create_enrollment_token")
            .runs(json(|s, c, i: CreateEnrollmentToken| async move { s.create_enrollment_token(&c.actor, &i.label, i.expires_in_hours, i.single_use, i.hostnames.as_deref()).await }))
        .takes::<CreateEnrollmentToken>()
        .gives::<CreatedEnrollmentToken>(),
        UseCase::read(
            "enrollment_tokens_list",
            "Enrollment tokens (never their secrets)",
            WRITE,
        )
            .tool("list_enrollment_tokens")
            .runs(json(|s, c, _: NoInput| async move { s.list_enrollment_tokens(&c.actor).await.map(|items| Items { items }) }))
        .gives::<Items<EnrollmentTokenView>>(),
        UseCase::delete(
            "enrollment_tokens_revoke",
            "Revoke an enrollment token",
            WRITE,
        )
            .tool("revoke_enrollment_token")
            .runs(nothing(|s, c, i: ById| async move { s.revoke_enrollment_token(&c.actor, &i.id).await }))
        .takes::<ById>(),
        UseCase::read("endpoints_list", "Enrolled endpoints", READ)
            .tool("list_endpoints")
            .runs(json(|s, c, i: EndpointsQuery| async move { s.list_endpoints(&c.actor, &i).await }))
            .takes::<EndpointsQuery>()
            .gives::<Page<EndpointView>>(),
        UseCase::read("endpoints_get", "One endpoint, with its latest scan", READ)
            .tool("get_endpoint")
            .runs(json(|s, c, i: ById| async move { s.get_endpoint(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives::<EndpointDetail>(),
        UseCase::write("endpoints_update", "Change an endpoint's tags", WRITE)
            .tool("set_endpoint_tags")
            .runs(json(|s, c, i: UpdateEndpointTags| async move { s.update_endpoint_tags(&c.actor, &i.id, &i.tags, i.version).await }))
            .idempotent()
            .takes::<UpdateEndpointTags>()
            .gives::<EndpointView>(),
        UseCase::write(
            "endpoints_retire",
            "Retire an endpoint: its credential stops working, its history stays",
            WRITE,
        )
            .tool("retire_endpoint")
            .runs(json(|s, c, i: ById| async move { s.retire_endpoint(&c.actor, &i.id).await }))
            .destructive()
            .idempotent()
        .takes::<ById>()
        .gives::<EndpointView>(),
        UseCase::write(
            "endpoints_allow_reenroll",
            "Allow one re-enrolment of this endpoint's hostname without its current credential, within the next hour (a reinstalled machine); audited",
            WRITE,
        )
            .tool("allow_endpoint_reenrollment")
            .runs(json(|s, c, i: ById| async move { s.allow_reenroll(&c.actor, &i.id).await }))
        .takes::<ById>()
        .gives::<EndpointView>(),
        UseCase::delete("endpoints_delete", "Delete an endpoint and its scans", WRITE)
            .tool("delete_endpoint")
            .runs(nothing(|s, c, i: ById| async move { s.delete_endpoint(&c.actor, &i.id).await }))
            .takes::<ById>(),
        UseCase::read("scans_get", "A scan with its results", READ)
            .tool("get_scan")
            .runs(json(|s, c, i: ById| async move { s.get_scan(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives::<crate::scans::ScanDetail>(),
        UseCase::read(
            "scan_results_list",
            "Current results: the latest result of every check on every active endpoint, by hostname",
            READ,
        )
            .tool("list_scan_results")
            .runs(json(|s, c, i: ScanResultsQuery| async move { s.list_scan_results(&c.actor, &i).await }))
        .takes::<ScanResultsQuery>()
.gives::<Page<crate::LatestResultView>>(),
    ]
}

fn commands() -> Vec<UseCase> {
    let read_jobs = Gate::Action(Action::ReadRecords(SCRIPTS.read_role));
    vec![
        UseCase::write(
            "scripts_execute",
            "Run a script on endpoints by hostname (Admin; needs remoteExecution); audited",
            WRITE,
        )
            .tool("execute_script")
            .runs(json(|s, c, i: serde_json::Map<String, Value>| async move { let (id, body) = invoke::split_id(i)?; s.execute_script(&c.actor, &id, &body).await }))
            .destructive()
        .takes::<ExecuteScript>()
        .gives::<JobView>(),
        UseCase::read(
            "jobs_list",
            "The command channel's history, newest first, each job with its status on each endpoint",
            read_jobs,
        )
            .tool("list_jobs")
            .runs(json(|s, c, i: Paging| async move { s.list_jobs(&c.actor, &i).await }))
        .takes::<Paging>()
        .gives::<Page<JobView>>(),
        UseCase::read("jobs_get", "A job and its status on each endpoint", read_jobs)
            .tool("get_job")
            .runs(json(|s, c, i: ById| async move { s.get_job(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives::<JobView>(),
        UseCase::write(
            "jobs_cancel",
            "Cancel a job's targets that are still pending (Admin); audited. Commands already sent cannot be recalled (409 when nothing is pending)",
            WRITE,
        )
            .tool("cancel_job")
            .runs(json(|s, c, i: ById| async move { s.cancel_job(&c.actor, &i.id).await }))
        .takes::<ById>()
        .gives::<JobView>(),
    ]
}

fn controls() -> Vec<UseCase> {
    let mut overlay = input_schema(&CONTROL_OVERLAYS);
    if let Some(props) = overlay.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "id".into(),
            json!({ "type": "string", "description": "the control id, e.g. ac-2.1 or AC-2(1)" }),
        );
    }
    if let Some(o) = overlay.as_object_mut() {
        let mut required = vec![json!("id")];
        if let Some(Value::Array(rest)) = o.remove("required") {
            required.extend(rest);
        }
        o.insert("required".into(), Value::Array(required));
    }
    let control = Shape::output::<crate::ControlView>();
    vec![
        UseCase::read("controls_list", "Controls with the organization's overlays", READ)
            .tool("list_controls")
            .runs(json(|s, c, i: ControlsQuery| async move { s.list_controls(&c.actor, &i).await }))
            .takes::<ControlsQuery>()
            .gives_shape(Shape::Page(Box::new(control.clone()))),
        UseCase::read(
            "controls_get",
            "One control (ac-2.1 or AC-2(1)) with the organization's overlay",
            READ,
        )
            .tool("get_control")
            .runs(json(|s, c, i: ControlRef| async move { s.get_control(&c.actor, &i.id).await }))
        .takes::<ControlRef>()
        .gives_shape(control.clone()),
        UseCase::read(
            "controls_links",
            "The records of any module linked to a control, newest first",
            READ,
        )
        .tool("list_control_links")
        .runs(json(|s, c, i: ControlRef| async move { s.list_control_links(&c.actor, &i.id).await }))
        .takes::<ControlRef>()
        .gives::<crate::LinkList>(),
        UseCase::write(
            "controls_put_overlay",
            "Tailor a control for this organization",
            WRITE,
        )
            .tool("set_control_overlay")
            .runs(json(|s, c, i: serde_json::Map<String, Value>| async move { let (id, body) = invoke::split_id(i)?; s.put_overlay(&c.actor, &id, &body).await }))
            .idempotent()
        .takes_declared(overlay)
        .gives_shape(control),
        UseCase::delete(
            "controls_delete_overlay",
            "Remove this organization's tailoring of a control",
            WRITE,
        )
            .tool("delete_control_overlay")
            .runs(nothing(|s, c, i: ControlRef| async move { s.delete_overlay(&c.actor, &i.id).await }))
        .takes::<ControlRef>(),
        UseCase::write(
            "controls_remediate",
            "Run the failing checks' remediation scripts on the failing endpoints (Admin; needs remoteExecution); audited",
            WRITE,
        )
            .tool("trigger_remediation")
            .runs(json(|s, c, i: ControlRef| async move { s.remediate_control(&c.actor, &i.id).await }))
            .destructive()
        .takes::<ControlRef>()
        .gives::<Remediation>(),
        UseCase::read(
            "checks_list",
            "Technical checks the agent runs, with severity and mapped controls",
            Gate::Action(Action::ReadChecks),
        )
            .tool("list_checks")
            .runs(json(|s, c, _: NoInput| async move { s.list_checks(&c.actor).map(|items| Items { items }) }))
        .gives::<Items<CheckView>>(),
        UseCase::read(
            "frameworks_list",
            "Frameworks (SP 800-53 Rev 5 and its baselines)",
            READ,
        )
            .tool("list_frameworks")
            .runs(json(|s, c, _: NoInput| async move { s.list_frameworks(&c.actor).map(|items| Items { items }) }))
        .gives::<Items<FrameworkView>>(),
    ]
}

fn posture() -> Vec<UseCase> {
    vec![
        UseCase::read(
            "posture",
            "Compliance posture from the latest scan of every active endpoint, risk acceptances applied",
            READ,
        )
            .tool("get_posture")
            .runs(json(|s, c, _: NoInput| async move { s.posture(&c.actor).await }))
        .gives::<crate::posture::PostureView>(),
        UseCase::read(
            "posture_endpoints",
            "The posture of each active endpoint, by hostname, a page at a time",
            READ,
        )
            .tool("list_endpoint_posture")
            .runs(json(|s, c, i: Paging| async move { s.posture_endpoints(&c.actor, &i).await }))
        .takes::<Paging>()
        .gives::<Page<crate::posture::EndpointPosture>>(),
        UseCase::read(
            "posture_trend",
            "One point per scan (raw counts at scan time) and the current resolved totals",
            READ,
        )
            .tool("get_posture_trend")
            .runs(json(|s, c, i: TrendQuery| async move { s.posture_trend(&c.actor, &i).await }))
        .takes::<TrendQuery>()
        .gives::<crate::posture::PostureTrend>(),
        UseCase::write(
            "poam_from_control",
            "Create a POAM item for a failing control, from its failed checks, endpoints and evidence",
            WRITE,
        )
            .tool("create_poam_item_from_control")
            .runs(json(|s, c, i: PoamFromControl| async move { s.poam_from_control(&c.actor, &i.control, i.scheduled_completion.as_deref()).await }))
        .takes::<PoamFromControl>()
        .gives_shape(Shape::Named(
            record_name(&tater_domain::modules::POAM),
            output_schema(&tater_domain::modules::POAM),
        )),
        UseCase::write(
            "tasks_from_control",
            "Open a task to fix a failing control: its failed checks, endpoints and evidence as the description, priority from the worst failure, linked to the control",
            WRITE,
        )
            .tool("create_task_from_control")
            .runs(json(|s, c, i: TaskFromControl| async move { s.task_from_control(&c.actor, &i.control, i.assignee.as_deref(), i.due_date.as_deref()).await }))
        .takes::<TaskFromControl>()
        .gives_shape(Shape::Named(
            record_name(&tater_domain::modules::TASKS),
            output_schema(&tater_domain::modules::TASKS),
        )),
        UseCase::read(
            "risks_heat_map",
            "Counts of risks on the 5×5 likelihood × impact grid",
            Gate::Action(Action::ReadRecords(RISKS.read_role)),
        )
            .tool("get_risk_heat_map")
            .runs(json(|s, c, i: HeatMapQuery| async move { let residual = matches!(i.kind, Some(RatingKind::Residual)); s.risk_heat_map(&c.actor, residual).await.map(|m| m.view()) }))
        .takes::<HeatMapQuery>()
        .gives::<crate::HeatMapView>(),
    ]
}

/// A change advisory board's votes on the change requests put to it, and applying an access
/// review's decisions.
fn change_management() -> Vec<UseCase> {
    let read = Gate::Action(Action::ReadRecords(CHANGE_REQUESTS.read_role));
    vec![
        UseCase::write(
            "change_request_votes_create",
            "Vote on a submitted change request as its board's chair or a voting member (approve, reject or abstain; a later vote replaces yours); when the votes reach the board's threshold, or can no longer, the change is Approved or Rejected with the tally; an emergency change is decided by its chair's approval; audited",
            WRITE,
        )
        .tool("vote_on_change_request")
        .runs(json(|s, c, i: VoteRequest| async move {
            let input = crate::VoteInput { vote: i.vote, comment: i.comment };
            s.vote_on_change(&c.actor, &i.id, &input).await
        }))
        .takes::<VoteRequest>()
        .gives::<crate::ChangeVotes>(),
        UseCase::read(
            "change_request_votes",
            "The votes of a change request's current round, the tally against the board's threshold, and the approved changes it conflicts with",
            read,
        )
        .tool("list_change_request_votes")
        .runs(json(|s, c, i: ById| async move { s.change_votes(&c.actor, &i.id).await }))
        .takes::<ById>()
        .gives::<crate::ChangeVotes>(),
        UseCase::write(
            "access_review_apply",
            "Carry out a Completed access review's decisions: revoke the members and API keys decided so and give members their new role, under the members API's rules (rank, last OrgAdmin); each change audited, each item's outcome answered; applying again changes nothing more",
            MEMBERS,
        )
        .tool("apply_access_review")
        .destructive()
        .runs(json(|s, c, i: ById| async move { s.apply_access_review(&c.actor, &i.id).await }))
        .takes::<ById>()
        .gives::<crate::ReviewApplied>(),
    ]
}

fn federal() -> Vec<UseCase> {
    // The record as the module declares it, marked `configured: true`; or, before an
    // OrgAdmin writes one, only `{"configured": false}`.
    let mut record = output_schema(&SYSTEM_PROFILE);
    record["properties"]["configured"] = json!({ "const": true });
    let profile = json!({
        "type": "object",
        "oneOf": [
            record,
            {
                "type": "object", "additionalProperties": false, "required": ["configured"],
                "properties": { "configured": { "const": false } },
            },
        ],
    });
    vec![
        UseCase::read(
            "system_profile_get",
            "The system profile (or `{configured: false}`)",
            READ,
        )
            .tool("get_system_profile")
            .runs(json(|s, c, _: NoInput| async move { s.get_system_profile(&c.actor).await }))
        .gives_declared(profile.clone()),
        UseCase::write(
            "system_profile_put",
            "Create or replace the system profile (OrgAdmin; audited)",
            SETTINGS,
        )
            .tool("set_system_profile")
            .runs(json(|s, c, i: Value| async move { s.put_system_profile(&c.actor, &i).await }))
            .idempotent()
        .takes_declared(input_schema(&SYSTEM_PROFILE))
        .gives_declared(profile),
        UseCase::read(
            "ssp_get",
            "The System Security Plan as OSCAL 1.2.1 JSON (deterministic UUIDs: unchanged data gives identical bytes) or as a Word document",
            READ,
        )
            .tool("export_ssp")
        .takes::<SspInput>()
        .gives_file(&[
            "application/json",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ]),
    ]
}

fn audit() -> Vec<UseCase> {
    vec![
        UseCase::read("audit_log", "The organization's audit log, newest first", AUDIT)
            .tool("list_audit_log")
            .runs(json(|s, c, i: AuditQuery| async move { s.audit_log(&c.actor, &i).await }))
            .takes::<AuditQuery>()
            .gives::<Page<tater_audit::EntryView>>(),
        UseCase::read(
            "audit_log_export",
            "The whole audit log, oldest first, streamed: JSON Lines (header, entries, checkpoints, signed end line) for `tater audit verify`, or CSV",
            AUDIT,
        )
            .tool("export_audit_log")
        .takes::<AuditExportInput>()
        .gives_file(&["application/x-ndjson", "text/csv"]),
        UseCase::read(
            "audit_log_verify",
            "Verifies the organization's audit log in the database: hashes, chain, signatures, checkpoints, head",
            AUDIT,
        )
            .tool("verify_audit_log")
            .runs(json(|s, c, _: NoInput| async move { s.verify_audit(&c.actor).await }))
        .gives::<tater_audit::Report>(),
    ]
}

fn siem() -> Vec<UseCase> {
    let dest = Shape::output::<DestinationView>();
    let mut update = declared::siem_destination_input();
    // Each kind of destination takes the id of the one it replaces.
    if let Some(Value::Array(kinds)) = update.get_mut("oneOf") {
        for kind in kinds {
            kind["properties"]["id"] = json!({ "type": "string", "format": "uuid" });
            if let Some(Value::Array(req)) = kind.get_mut("required") {
                req.insert(0, json!("id"));
            }
        }
    }
    vec![
        UseCase::read(
            "siem_destinations_list",
            "SIEM destinations and how delivery to each is going",
            SETTINGS,
        )
            .tool("list_siem_destinations")
            .runs(json(|s, c, _: NoInput| async move { s.list_destinations(&c.actor).await.map(|items| Items { items }) }))
        .gives_shape(Shape::Items(Box::new(dest.clone()))),
        UseCase::write(
            "siem_destinations_create",
            "Add a syslog or webhook destination; a refused address answers 400 with the reason",
            SETTINGS,
        )
            .tool("create_siem_destination")
            .runs(json(|s, c, i: Value| async move { s.create_destination(&c.actor, &i).await }))
        .takes_declared(declared::siem_destination_input())
        .gives_shape(dest.clone()),
        UseCase::read("siem_destinations_get", "One destination", SETTINGS)
            .tool("get_siem_destination")
            .runs(json(|s, c, i: ById| async move { s.get_destination(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives_shape(dest.clone()),
        UseCase::write(
            "siem_destinations_update",
            "Replace a destination's settings (send `version` to refuse overwriting a concurrent change)",
            SETTINGS,
        )
            .tool("update_siem_destination")
            .runs(json(|s, c, i: serde_json::Map<String, Value>| async move { let (id, body) = invoke::split_id(i)?; s.update_destination(&c.actor, &id, &body).await }))
            .idempotent()
        .takes_declared(update)
        .gives_shape(dest),
        UseCase::delete(
            "siem_destinations_delete",
            "Delete a destination and its queue",
            SETTINGS,
        )
            .tool("delete_siem_destination")
            .runs(nothing(|s, c, i: ById| async move { s.delete_destination(&c.actor, &i.id).await }))
        .takes::<ById>(),
        UseCase::write(
            "siem_destinations_test",
            "Send a test event now and say whether it was accepted",
            SETTINGS,
        )
            .tool("test_siem_destination")
            .runs(json(|s, c, i: ById| async move { s.test_destination(&c.actor, &i.id).await }))
            .open_world()
        .takes::<ById>()
        .gives::<TestDelivery>(),
        UseCase::read(
            "siem_destinations_dead_letters",
            "Entries the destination refused for good",
            SETTINGS,
        )
            .tool("list_siem_dead_letters")
            .runs(json(|s, c, i: ById| async move { s.dead_letters(&c.actor, &i.id).await.map(|items| Items { items }) }))
        .takes::<ById>()
        .gives::<Items<DeadLetterView>>(),
        UseCase::write(
            "siem_destinations_replay",
            "Queue the dead letters again",
            SETTINGS,
        )
            .tool("replay_siem_dead_letters")
            .runs(json(|s, c, i: ById| async move { s.replay_dead_letters(&c.actor, &i.id).await }))
        .takes::<ById>()
        .gives::<Replayed>(),
    ]
}

/// The lists that export as CSV or JSON outside the modules (endpoints, controls, scan
/// results, members, jobs), one use case each, from the export pipeline's own table: the
/// same name, action and filters it uses.
fn list_exports() -> Vec<UseCase> {
    ExportList::ALL
        .into_iter()
        .map(|list| {
            let what = list.name().replace('-', " ");
            let input = Shape::Typed(list.input());
            let filters: Vec<String> = super::properties(&input.with(&mut Default::default()))
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| name != "format")
                .collect();
            let summary = if filters.is_empty() {
                format!("The {what} as CSV or JSON, streamed (no filters)")
            } else {
                format!(
                    "The {what} as CSV or JSON, streamed; takes the list's filters ({})",
                    filters.join(", ")
                )
            };
            UseCase::read(
                &format!("{}_export", list.name().replace('-', "_")),
                &summary,
                Gate::Action(list.action()),
            )
            .tool(&format!("export_{}", list.name().replace('-', "_")))
            .takes_shape(input)
            .gives_file(LIST_FILES)
        })
        .collect()
}

fn config_docs() -> Vec<UseCase> {
    use tater_domain::modules::CONFIG_DOCS;
    vec![
        UseCase::write(
            "config_docs_upsert",
            "Create the configuration document with this title, or replace the one that has it (matched exactly)",
            WRITE,
        )
        .tool("upsert_config_doc")
        .idempotent()
        .runs(json(|s, c, i: Value| async move { s.upsert_config_doc(&c.actor, &i).await }))
        .takes_declared(input_schema(&CONFIG_DOCS))
        .gives_shape(Shape::Named(
            record_name(&CONFIG_DOCS),
            output_schema(&CONFIG_DOCS),
        )),
    ]
}

/// What an audit holds beyond its record: snapshots of its scope and their evidence
/// packages, auditor tokens, and the reads an outside auditor makes with one.
fn audits() -> Vec<UseCase> {
    let auditor = Gate::Action(Action::AuditorAccess);
    vec![
        UseCase::write(
            "audit_snapshots_create",
            "Freeze an audit's scope now: control results, overlays and evidence list, kept unchanged with its SHA-256 (audited)",
            WRITE,
        )
        .tool("create_audit_snapshot")
            .about(&tater_domain::modules::AUDITS)
        .runs(json(|s, c, i: ById| async move { s.take_snapshot(&c.actor, &i.id).await }))
        .takes::<ById>()
        .gives::<crate::SnapshotView>(),
        UseCase::read("audit_snapshots_list", "An audit's snapshots, newest first (without bodies)", READ)
            .tool("list_audit_snapshots")
            .about(&tater_domain::modules::AUDITS)
            .runs(json(|s, c, i: ById| async move { s.list_snapshots(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives::<Items<crate::SnapshotView>>(),
        // A file, not a JSON answer: a snapshot can run to megabytes, which an assistant gets
        // as a link past the embedding limit rather than in its context.
        UseCase::read("audit_snapshots_get", "One snapshot of an audit with its body, checked against its SHA-256 (a JSON document)", READ)
            .tool("get_audit_snapshot")
            .about(&tater_domain::modules::AUDITS)
            .takes::<SnapshotRef>()
            .gives_file(&["application/json"]),
        UseCase::read(
            "audit_snapshots_package",
            "A snapshot's evidence package: zip of the snapshot, control status and evidence list as CSV, and a manifest of SHA-256s (Admin; audited)",
            WRITE,
        )
        .tool("get_evidence_package")
            .about(&tater_domain::modules::AUDITS)
        .takes::<SnapshotRef>()
        .gives_file(&["application/zip"]),
        UseCase::write(
            "auditor_tokens_create",
            "Give an outside auditor read-only access to one audit's snapshots for up to 90 days; the token is shown once (OrgAdmin; audited)",
            KEYS,
        )
        .tool("create_auditor_token")
            .about(&tater_domain::modules::AUDITS)
        .runs(json(|s, c, i: CreateAuditorTokenRequest| async move { s.create_auditor_token(&c.actor, &i.id, &i.token).await }))
        .takes::<CreateAuditorTokenRequest>()
        .gives::<crate::CreatedAuditorToken>(),
        UseCase::read("auditor_tokens_list", "An audit's auditor tokens (never their secrets)", KEYS)
            .tool("list_auditor_tokens")
            .about(&tater_domain::modules::AUDITS)
            .runs(json(|s, c, i: ById| async move { s.list_auditor_tokens(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives::<Items<crate::AuditorTokenView>>(),
        UseCase::delete("auditor_tokens_revoke", "Revoke an auditor token, with immediate effect (audited)", KEYS)
            .tool("revoke_auditor_token")
            .about(&tater_domain::modules::AUDITS)
            .runs(nothing(|s, c, i: AuditorTokenRef| async move { s.revoke_auditor_token(&c.actor, &i.id, &i.token_id).await }))
            .takes::<AuditorTokenRef>(),
        UseCase::read("auditor_audit", "With an auditor token: its audit and the audit's snapshots (audited)", auditor)
            .tool("get_auditor_audit")
            .gives::<crate::AuditorAuditView>(),
        UseCase::read("auditor_snapshot", "With an auditor token: one snapshot of its audit, with its body (audited)", auditor)
            .tool("get_auditor_snapshot")
            .takes::<AuditorSnapshotRef>()
            .gives::<crate::SnapshotView>(),
        UseCase::read("auditor_package", "With an auditor token: a snapshot's evidence package (audited)", auditor)
            .tool("get_auditor_package")
            .takes::<AuditorSnapshotRef>()
            .gives_file(&["application/zip"]),
    ]
}

/// Files attached to evidence records (the upload itself streams through its REST route).
fn evidence_files() -> Vec<UseCase> {
    let read = Gate::Action(Action::ReadRecords(
        tater_domain::modules::EVIDENCE.read_role,
    ));
    vec![
        UseCase::read("evidence_files_list", "The files attached to an evidence record, with their SHA-256", read)
            .tool("list_evidence_files")
            .about(&tater_domain::modules::EVIDENCE)
            .runs(json(|s, c, i: ById| async move { s.list_evidence_files(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives::<Items<crate::EvidenceFileView>>(),
        UseCase::read(
            "evidence_files_download",
            "A file of an evidence record, checked against its SHA-256 before it is sent (always as an attachment)",
            read,
        )
        .tool("get_evidence_file")
            .about(&tater_domain::modules::EVIDENCE)
        .takes::<FileRef>()
        .gives_file(&["application/octet-stream"]),
        UseCase::delete(
            "evidence_files_delete",
            "Remove a file from a draft evidence record (audited); its bytes go when nothing else holds them",
            WRITE,
        )
        .tool("delete_evidence_file")
            .about(&tater_domain::modules::EVIDENCE)
        .runs(nothing(|s, c, i: FileRef| async move { s.remove_evidence_file(&c.actor, &i.id, &i.file_id).await }))
        .takes::<FileRef>(),
    ]
}

/// What publishing a policy keeps: its versions, their PDFs and acknowledgements.
fn policies() -> Vec<UseCase> {
    let read = Gate::Action(Action::ReadRecords(
        tater_domain::modules::POLICIES.read_role,
    ));
    vec![
        UseCase::read("policy_versions_list", "A policy's published versions, newest first, each with its acknowledgement rate among the organization's members", read)
            .tool("list_policy_versions")
            .about(&tater_domain::modules::POLICIES)
            .runs(json(|s, c, i: ById| async move { s.list_policy_versions(&c.actor, &i.id).await }))
            .takes::<ById>()
            .gives::<Items<crate::PolicyVersionView>>(),
        UseCase::read("policy_versions_get", "One published version of a policy with its text (Markdown) and SHA-256", read)
            .tool("get_policy_version")
            .about(&tater_domain::modules::POLICIES)
            .runs(json(|s, c, i: PolicyVersionRef| async move { s.get_policy_version(&c.actor, &i.id, &i.version.to_string()).await }))
            .takes::<PolicyVersionRef>()
            .gives::<crate::PolicyVersionView>(),
        UseCase::read("policy_versions_pdf", "A published version of a policy as a PDF (A4, rendered in-process)", read)
            .tool("get_policy_pdf")
            .about(&tater_domain::modules::POLICIES)
            .takes::<PolicyVersionRef>()
            .gives_file(&["application/pdf"]),
        UseCase::read("policy_acknowledgements_list", "Who acknowledged a version of a policy and when, and which members have not yet (Auditor up: it names members)", AUDIT)
            .tool("list_policy_acknowledgements")
            .about(&tater_domain::modules::POLICIES)
            .runs(json(|s, c, i: PolicyVersionRef| async move { s.policy_acknowledgements(&c.actor, &i.id, &i.version.to_string()).await }))
            .takes::<PolicyVersionRef>()
            .gives::<crate::AcknowledgementReport>(),
        // A person's own statement: never an assistant's tool (see `UseCase::is_tool`).
        UseCase::write("policy_acknowledgements_create", "Acknowledge the version in force of a policy as the member signed in (audited; acknowledging again changes nothing)", Gate::Action(Action::Acknowledge))
            .tool("acknowledge_policy")
            .about(&tater_domain::modules::POLICIES)
            .idempotent()
            .runs(json(|s, c, i: PolicyVersionRef| async move { s.acknowledge_policy(&c.actor, &i.id, &i.version.to_string()).await }))
            .takes::<PolicyVersionRef>()
            .gives::<crate::Acknowledged>(),
        UseCase::read("policies_to_acknowledge", "The policies whose version in force the caller has not acknowledged yet", read)
            .tool("list_policies_to_acknowledge")
            .runs(json(|s, c, _: NoInput| async move { s.policies_to_acknowledge(&c.actor).await }))
            .gives::<Items<crate::PolicyToAcknowledge>>(),
    ]
}

/// The Evidence Agent's jobs: started by an Admin, read by members.
fn evidence_agent() -> Vec<UseCase> {
    use crate::{EvidenceJobInput, EvidenceJobView};
    vec![
        UseCase::write(
            "ai_evidence_jobs_create",
            "Ask the Evidence Agent to gather evidence for controls (or a family's) in the background: it writes draft evidence records citing what it read, for a person to accept or reject",
            WRITE,
        )
        .tool("create_evidence_job")
        .runs(json(|s, c, i: EvidenceJobInput| async move {
            s.create_evidence_job(&c.actor, &i).await
        }))
        .open_world()
        .takes::<EvidenceJobInput>()
        .gives::<EvidenceJobView>(),
        UseCase::read(
            "ai_evidence_jobs_list",
            "The Evidence Agent's jobs, the newest first: state, controls done, drafts, tokens used",
            READ,
        )
        .tool("list_evidence_jobs")
        .runs(json(|s, c, i: Paging| async move {
            s.list_evidence_jobs(&c.actor, i.cursor.as_deref(), i.limit)
                .await
        }))
        .takes::<Paging>()
        .gives_shape(Shape::Page(Box::new(Shape::output::<EvidenceJobView>()))),
        UseCase::read(
            "ai_evidence_jobs_get",
            "One Evidence Agent job: its state, controls done, drafts and tokens used",
            READ,
        )
        .tool("get_evidence_job")
        .runs(json(|s, c, i: ById| async move {
            s.get_evidence_job(&c.actor, &i.id).await
        }))
        .takes::<ById>()
        .gives::<EvidenceJobView>(),
        UseCase::write(
            "ai_evidence_jobs_cancel",
            "Stop an Evidence Agent job at its next step; drafts already written stay for review (audited)",
            WRITE,
        )
        .tool("cancel_evidence_job")
        .runs(json(|s, c, i: ById| async move {
            s.cancel_evidence_job(&c.actor, &i.id).await
        }))
        .idempotent()
        .takes::<ById>()
        .gives::<EvidenceJobView>(),
    ]
}

/// The AI analyst: a member's own conversations and their decisions on proposed changes.
/// A person's alone: none of these is an assistant's tool.
fn analyst() -> Vec<UseCase> {
    use crate::{ActionView, ConversationDetail, ConversationView, ExchangeView, MessageInput};
    vec![
        UseCase::write(
            "ai_conversations_create",
            "Start a conversation with the AI analyst (the AI features must be on)",
            CONVERSE,
        )
        .tool("create_ai_conversation")
        .runs(json(|s, c, _: NoInput| async move {
            s.create_ai_conversation(&c.actor).await
        }))
        .gives::<ConversationView>(),
        UseCase::read(
            "ai_conversations_list",
            "Your conversations with the AI analyst, the latest first",
            CONVERSE,
        )
        .tool("list_ai_conversations")
        .runs(json(|s, c, i: Paging| async move {
            s.list_ai_conversations(&c.actor, i.cursor.as_deref(), i.limit)
                .await
        }))
        .takes::<Paging>()
        .gives_shape(Shape::Page(Box::new(Shape::output::<ConversationView>()))),
        UseCase::read(
            "ai_conversations_get",
            "One of your conversations with the AI analyst: its messages and the changes it proposed",
            CONVERSE,
        )
        .tool("get_ai_conversation")
        .runs(json(|s, c, i: ById| async move {
            s.get_ai_conversation(&c.actor, &i.id).await
        }))
        .takes::<ById>()
        .gives::<ConversationDetail>(),
        UseCase::delete(
            "ai_conversations_delete",
            "Delete one of your conversations with everything said in it",
            CONVERSE,
        )
        .tool("delete_ai_conversation")
        .runs(nothing(|s, c, i: ById| async move {
            s.delete_ai_conversation(&c.actor, &i.id).await
        }))
        .takes::<ById>(),
        UseCase::write(
            "ai_messages_create",
            "Ask the AI analyst: it reads with your tools and proposes changes for you to confirm (answers stream as server-sent events unless JSON is asked for)",
            CONVERSE,
        )
        .tool("send_ai_message")
        .runs(json(|s, c, i: AiMessageRequest| async move {
            let message = MessageInput { content: i.content };
            s.post_ai_message(&c, &i.id, &message, None).await
        }))
        .takes::<AiMessageRequest>()
        .gives::<ExchangeView>(),
        UseCase::write(
            "ai_actions_confirm",
            "Run a change the AI analyst proposed, exactly as proposed, with your role (audited via copilot)",
            CONVERSE,
        )
        .tool("confirm_ai_action")
        .runs(json(|s, c, i: ById| async move {
            s.confirm_ai_action(&c, &i.id).await
        }))
        .takes::<ById>()
        .gives::<ActionView>(),
        UseCase::write(
            "ai_actions_dismiss",
            "Turn down a change the AI analyst proposed; it never runs",
            CONVERSE,
        )
        .tool("dismiss_ai_action")
        .runs(json(|s, c, i: ById| async move {
            s.dismiss_ai_action(&c, &i.id).await
        }))
        .takes::<ById>()
        .gives::<ActionView>(),
    ]
}
