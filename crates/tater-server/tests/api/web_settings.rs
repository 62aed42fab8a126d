//! The Settings page: sections made of the registry's own use cases (features, members, API
//! keys, SIEM destinations, the MCP tool policy), only what the role may use, changes through
//! the same forms as every use case, and a self-refreshing status that is not activity.

use std::sync::Arc;

use reqwest::StatusCode;
use tater_domain::Role;
use tater_testkit::{TestDb, both_engines};

use crate::support::*;
use crate::web::{
    cookie_header, csrf_of, is_sign_in_redirect, no_redirects, page, post, seen, sign_in,
    with_session_times,
};

both_engines!(
    the_settings_page_is_made_of_the_registrys_use_cases_for_the_role,
    members_and_the_mcp_tool_policy_change_from_settings
);

/// The `<input …>` tag with `id`.
fn input_tag<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {body}"));
    let start = body[..at].rfind('<').unwrap();
    let end = at + body[at..].find('>').unwrap();
    &body[start..=end]
}

async fn the_settings_page_is_made_of_the_registrys_use_cases_for_the_role(db: TestDb) {
    let clock = Arc::new(ShiftedClock::default());
    let app = with_session_times(db, clock.clone(), 120, 3600).await;
    let org = app.org("Settled Inc").await;
    let admin = app.person(org, "oa@settings.test", Role::OrgAdmin).await;
    app.person(org, "vi@settings.test", Role::Viewer).await;

    let secret = sign_in(&app, "oa@settings.test").await;
    let settings = page(&app, Some(&secret), "/app/settings").await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    for title in [
        "Features",
        "Members",
        "API keys",
        "SIEM destinations",
        "MCP tool policy",
    ] {
        assert!(settings.body.contains(&format!(">{title}</h2>")), "{title}");
    }
    assert!(
        settings.body.contains("href=\"/app/settings\""),
        "in the navigation"
    );
    // The features form shows what is set now: remote execution off.
    let switch = input_tag(&settings.body, "i-update_settings-remoteExecution");
    assert!(!switch.contains("checked"), "{switch}");
    assert!(
        settings.body.contains("oa@settings.test"),
        "members are listed"
    );

    // Turned on from the form; the way back leads to its section.
    let csrf = csrf_of(&settings.body);
    let done = post(
        &app,
        Some(&secret),
        "/app/actions/update_settings",
        &[("_csrf", &csrf), ("remoteExecution", "on")],
        &[],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("id=\"done\""), "{}", done.body);
    assert!(done.body.contains("href=\"/app/settings#features\""));
    let (_, now) = app.get("/api/settings", &admin).await;
    assert_eq!(now["remoteExecution"], true);
    let settings = page(&app, Some(&secret), "/app/settings").await;
    let switch = input_tag(&settings.body, "i-update_settings-remoteExecution");
    assert!(switch.contains("checked"), "{switch}");

    // A SIEM destination from fields, not JSON: a type to choose, each type's own fields.
    assert!(input_tag(&settings.body, "i-create_siem_destination-type").starts_with("<select"));
    let enabled = input_tag(&settings.body, "i-create_siem_destination-enabled");
    assert!(enabled.contains("checked"), "on unless unticked: {enabled}");
    // Missing the webhook's address: said at the field, nothing saved.
    let refused = post(
        &app,
        Some(&secret),
        "/app/actions/create_siem_destination",
        &[
            ("_csrf", &csrf),
            ("type", "webhook"),
            ("name", "Hook"),
            ("host", "ignored.example"),
            ("enabled", "on"),
        ],
        &[],
    )
    .await;
    assert!(
        refused.body.contains("Nothing was changed"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("id=\"e-url\""), "{}", refused.body);
    let made = post(
        &app,
        Some(&secret),
        "/app/actions/create_siem_destination",
        &[
            ("_csrf", &csrf),
            ("type", "syslog"),
            ("name", "Splunk HEC relay"),
            ("host", "127.0.0.1"),
            ("port", "5514"),
            ("transport", "udp"),
            ("url", "https://not-this-type.example"),
            ("enabled", "on"),
        ],
        &[],
    )
    .await;
    assert!(made.body.contains("id=\"done\""), "{}", made.body);
    let (_, listed) = app.get("/api/siem-destinations", &admin).await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(
        (&items[0]["name"], &items[0]["type"], &items[0]["enabled"]),
        (&"Splunk HEC relay".into(), &"syslog".into(), &true.into())
    );
    let id = items[0]["id"].as_str().unwrap();
    // Listed with its delivery status, and each row's own reads and changes.
    let settings = page(&app, Some(&secret), "/app/settings").await;
    assert!(settings.body.contains("Splunk HEC relay"));
    assert!(
        settings
            .body
            .contains(&format!("/app/actions/list_siem_dead_letters?id={id}")),
        "{}",
        settings.body
    );
    assert!(settings.body.contains("hx-trigger=\"every 15s\""));

    // One section alone, as its refresh asks for it.
    let only = page(&app, Some(&secret), "/app/settings?section=siem").await;
    assert!(only.body.contains(">SIEM destinations</h2>"));
    assert!(!only.body.contains(">MCP tool policy</h2>"));

    // A refresh the page makes by itself is not activity: the idle timeout still comes.
    clock.advance_secs(100);
    let refreshed = seen(
        no_redirects()
            .get(app.url("/app/settings?section=siem"))
            .header("cookie", cookie_header(&secret))
            .header(tater_web::BACKGROUND_HEADER, "1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    clock.advance_secs(100);
    // htmx, asking for a fragment after the session ended, is told to load the sign-in page.
    let from_htmx = seen(
        no_redirects()
            .get(app.url("/app/settings?section=siem"))
            .header("cookie", cookie_header(&secret))
            .header("hx-request", "true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(from_htmx.status, StatusCode::UNAUTHORIZED);
    assert_eq!(from_htmx.headers["hx-redirect"], tater_web::SIGN_IN_PATH);
    assert!(is_sign_in_redirect(
        &page(&app, Some(&secret), "/app").await
    ));

    // A viewer is offered no Settings, and the page is not there for them.
    let viewer = sign_in(&app, "vi@settings.test").await;
    let dash = page(&app, Some(&viewer), "/app").await;
    assert!(!dash.body.contains("href=\"/app/settings\""));
    assert_eq!(
        page(&app, Some(&viewer), "/app/settings").await.status,
        StatusCode::NOT_FOUND
    );
}

/// Members are invited, given another role and removed from the Settings page, and the MCP
/// tool policy's form (filled with the policy as it is) switches tools off for AI assistants.
async fn members_and_the_mcp_tool_policy_change_from_settings(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let org = app.org("Staffed").await;
    let boss = app.person(org, "oa@staff.test", Role::OrgAdmin).await;
    app.person(org, "bob@staff.test", Role::Viewer).await;
    let (_, members) = app.get("/api/members", &boss).await;
    let bob = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "bob@staff.test")
        .unwrap()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    let role_of = |email: &'static str| {
        let app = &app;
        let boss = &boss;
        async move {
            let (_, members) = app.get("/api/members", boss).await;
            members["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["email"] == email)
                .map(|m| m["role"].as_str().unwrap().to_owned())
        }
    };

    let secret = sign_in(&app, "oa@staff.test").await;
    let settings = page(&app, Some(&secret), "/app/settings").await;
    // Each member's row, named by the address, offers its own changes.
    assert!(
        settings.body.contains(&format!(
            "<th scope=\"row\">bob@staff.test <code class=\"small\">{bob}</code>"
        )),
        "{}",
        settings.body
    );
    for tool in ["change_member_role", "remove_member"] {
        assert!(
            settings
                .body
                .contains(&format!("/app/actions/{tool}?id={bob}")),
            "{tool} on bob's row"
        );
    }
    let csrf = csrf_of(&settings.body);
    let run = |tool: &'static str, fields: Vec<(&'static str, String)>| {
        let (app, secret, csrf) = (&app, &secret, &csrf);
        async move {
            let mut all = vec![("_csrf", csrf.clone())];
            all.extend(fields);
            let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let done = post(
                app,
                Some(secret),
                &format!("/app/actions/{tool}"),
                &pairs,
                &[],
            )
            .await;
            assert_eq!(done.status, StatusCode::OK, "{tool}: {}", done.body);
            assert!(done.body.contains("id=\"done\""), "{tool}: {}", done.body);
            assert!(done.body.contains("href=\"/app/settings#"), "the way back");
        }
    };

    run(
        "invite_member",
        vec![
            ("email", "carol@staff.test".into()),
            ("role", "auditor".into()),
        ],
    )
    .await;
    let (_, invited) = app.get("/api/members/invitations", &boss).await;
    assert_eq!(
        invited["items"][0]["email"], "carol@staff.test",
        "{invited}"
    );
    assert_eq!(invited["items"][0]["role"], "auditor");
    run(
        "change_member_role",
        vec![("id", bob.clone()), ("role", "admin".into())],
    )
    .await;
    assert_eq!(role_of("bob@staff.test").await.as_deref(), Some("admin"));
    run("remove_member", vec![("id", bob.clone())]).await;
    assert_eq!(role_of("bob@staff.test").await, None);
    let changes: Vec<(String, String)> = app
        .audit_entries(org)
        .await
        .iter()
        .take(3)
        .map(|e| {
            (
                e["entityType"].as_str().unwrap().to_owned(),
                e["via"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(changes.iter().all(|(_, via)| via == "web"), "{changes:?}");

    // The policy's form shows the policy as it is, and saving it hides tools from MCP.
    let mode = input_tag(&settings.body, "i-set_mcp_policy-mode");
    assert!(mode.starts_with("<select"), "{mode}");
    assert!(
        settings
            .body
            .contains("<option value=\"permissive\" selected>"),
        "permissive now"
    );
    let key = app.api_key_of("oa@staff.test", Some(org)).await;
    assert!(
        crate::mcp::raw_tool_names(&app, &key)
            .await
            .contains(&"export_ssp".to_owned())
    );
    run(
        "set_mcp_policy",
        vec![
            ("mode", "permissive".into()),
            ("disabledTools", "export_ssp, list_poam_items".into()),
        ],
    )
    .await;
    let (_, policy) = app.get("/api/settings/mcp", &boss).await;
    assert_eq!(
        policy["disabledTools"],
        serde_json::json!(["export_ssp", "list_poam_items"])
    );
    let tools = crate::mcp::raw_tool_names(&app, &key).await;
    assert!(!tools.contains(&"export_ssp".to_owned()));
    assert!(!tools.contains(&"list_poam_items".to_owned()));
    assert!(tools.contains(&"get_poam_item".to_owned()));
    let settings = page(&app, Some(&secret), "/app/settings").await;
    assert!(
        input_tag(&settings.body, "i-set_mcp_policy-disabledTools")
            .contains("value=\"export_ssp, list_poam_items\""),
        "the form shows the policy saved"
    );

    // Retention: each period with its default and bounds, changed from the form.
    assert!(
        settings.body.contains("Audit log entries"),
        "the periods are listed"
    );
    run(
        "set_retention_policy",
        vec![
            ("auditLogDays", "400".into()),
            ("pageViewDays", String::new()),
            ("records", "{\"tasks\": 90}".into()),
        ],
    )
    .await;
    let (_, retention) = app.get("/api/settings/retention", &boss).await;
    assert_eq!(retention["auditLogDays"], 400, "{retention}");
    assert_eq!(retention["records"]["tasks"], 90, "{retention}");
    assert!(
        retention.get("pageViewDays").is_none(),
        "left empty: the default"
    );
    let settings = page(&app, Some(&secret), "/app/settings").await;
    assert!(
        input_tag(&settings.body, "i-set_retention_policy-auditLogDays").contains("value=\"400\""),
        "the form shows the periods saved"
    );
}
