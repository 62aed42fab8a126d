//! SPEC T1 on the web application (issue 14): a person signed in to organization A opens no
//! page and no download of organization B, and changes nothing of B's, by any page that
//! takes an id — every module's record pages and forms, the endpoint pages, enrollment
//! tokens, file uploads, and every use case's page (`/app/actions/{tool}`). Ids of B answer
//! 404, never B's data, and B's records and audit log stay as they were.
//!
//! Which of B's ids each use case is tried with: see `theirs`.

use reqwest::StatusCode;
use tater_domain::{Action, Role};
use tater_service::use_cases::{Gate, Output, UseCase, registry};
use tater_testkit::{TestDb, both_engines};

use crate::evidence_files::{multipart, post_upload};
use crate::support::*;
use crate::theirs::{
    Theirs, fillers, holdings, proves_something, seconds, takes_id, theirs, tries,
};
use crate::web::{Seen, cookie_header, csrf_of, no_redirects, page, post, seen, sign_in};

both_engines!(no_page_or_download_reaches_another_organization);

/// The page refused what it was asked and showed nothing of B's.
fn refused(seen: &Seen, theirs: &Theirs, what: &str) {
    assert!(
        seen.status == StatusCode::NOT_FOUND,
        "{what}: {} {}",
        seen.status,
        seen.body
    );
    shows_nothing_of(seen, theirs, what);
}

fn shows_nothing_of(seen: &Seen, theirs: &Theirs, what: &str) {
    for secret in &theirs.secrets {
        assert!(
            !seen.body.contains(secret.as_str()),
            "{what} shows {secret}"
        );
    }
}

async fn no_page_or_download_reaches_another_organization(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let a = app.org("A").await;
    let b = app.org("B").await;
    app.person(a, "ann@a.test", Role::OrgAdmin).await;
    let bob = app.person(b, "bob@b.test", Role::OrgAdmin).await;
    let theirs = theirs(&app, b, &bob).await;
    let before = app.snapshot(b).await;
    let (_, endpoints_before) = app.get("/api/endpoints", &bob).await;
    let (_, tokens_before) = app.get("/api/enrollment-tokens", &bob).await;

    let secret = sign_in(&app, "ann@a.test").await;
    let csrf = csrf_of(&page(&app, Some(&secret), "/app").await.body);
    let send = |path: String, fields: Vec<(String, String)>| {
        let (app, secret, csrf) = (&app, &secret, &csrf);
        async move {
            let mut all = vec![("_csrf".to_owned(), csrf.clone())];
            all.extend(fields);
            let pairs: Vec<(&str, &str)> =
                all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post(app, Some(secret), &path, &pairs, &[]).await
        }
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };

    // Every module's record pages and forms.
    let mut checked = 0;
    for (module, id) in &theirs.records {
        let at = format!("/app/{module}/{id}");
        for path in [at.clone(), format!("{at}/edit"), format!("{at}/delete")] {
            refused(&page(&app, Some(&secret), &path).await, &theirs, &path);
            checked += 1;
        }
        let label = label_field(module);
        for (path, fields) in [
            (at.clone(), pairs(&[(label, "taken over")])),
            (format!("{at}/delete"), Vec::new()),
            (format!("{at}/comments"), pairs(&[("body", "from A")])),
            (format!("{at}/transitions"), pairs(&[("to", "Closed")])),
            (
                format!("{at}/links"),
                pairs(&[("module", "controls"), ("target", "ac-2")]),
            ),
            (format!("{at}/links/{}/delete", theirs.link), Vec::new()),
        ] {
            refused(&send(path.clone(), fields).await, &theirs, &path);
            checked += 1;
        }
    }

    // A's own record linked to B's by id: refused, nothing linked on either side.
    let mine = app
        .create(
            "poam",
            &app.api_key_of("ann@a.test", Some(a)).await,
            sample("poam", 2),
        )
        .await;
    let mine = format!("/app/poam/{}", mine["id"].as_str().unwrap());
    let (_, risk) = theirs.records.iter().find(|(m, _)| *m == "risks").unwrap();
    let linked = send(
        format!("{mine}/links"),
        pairs(&[("module", "risks"), ("target", risk)]),
    )
    .await;
    assert!(linked.status.is_client_error(), "{}", linked.body);
    shows_nothing_of(&linked, &theirs, "a link to B's risk");

    // The endpoint pages, enrollment tokens and the upload form.
    let endpoint = format!("/app/endpoints/{}", theirs.endpoint);
    refused(
        &page(&app, Some(&secret), &endpoint).await,
        &theirs,
        &endpoint,
    );
    for path in [
        format!("{endpoint}/retire"),
        format!("/app/endpoints/tokens/{}/revoke", theirs.token),
    ] {
        refused(&send(path.clone(), Vec::new()).await, &theirs, &path);
    }
    let (_, evidence) = theirs
        .records
        .iter()
        .find(|(m, _)| *m == "evidence")
        .unwrap();
    let body = multipart(&[
        ("_csrf", None, csrf.as_bytes()),
        ("file", Some("a.txt"), b"from A"),
    ]);
    assert_eq!(
        post_upload(&app, &secret, evidence, body).await,
        StatusCode::NOT_FOUND
    );

    // Every use case's page that takes an id: with each of B's ids, and with each of A's own
    // records holding B's ids in its second id (a file, snapshot, link or move of B's under
    // A's record). Reads, downloads and changes all answer 404. Downloads ask as a page's
    // link does.
    let ann = app.api_key_of("ann@a.test", Some(a)).await;
    let mine = holdings(&app, a, &ann, "A").await;
    let ours = &mine.records;
    // The use cases A is offered, as the actions index links them.
    let index = page(&app, Some(&secret), "/app/actions").await.body;
    let mut not_offered = Vec::new();
    let mut own_checks = Vec::new();
    for case in registry().iter() {
        let file = matches!(case.output, Output::File(_));
        if !takes_id(case) || (case.invoke.is_none() && !file) || case.tool.is_empty() {
            continue;
        }
        // A page A is not offered answers 404 whatever the id: its tries would prove nothing.
        if !index.contains(&format!("href=\"/app/actions/{}\"", case.tool)) {
            not_offered.push(case);
            continue;
        }
        let seconds = seconds(case);
        // Every other field the use case requires, valid, as its form posts it.
        let filled: Vec<(String, String)> = fillers(case)
            .into_iter()
            .map(|(name, value)| (name, form_value(&value)))
            .collect();
        for (id, second) in tries(case, &theirs, ours) {
            let mut fields = vec![("id".to_owned(), id.to_owned())];
            fields.extend(seconds.iter().map(|n| ((*n).clone(), second.to_owned())));
            fields.extend(filled.iter().cloned());
            let shown = ask(&app, &secret, &csrf, case, fields).await;
            let what = format!("{} with {id} and {second}", case.tool);
            shows_nothing_of(&shown, &theirs, &what);
            assert!(!shown.body.contains("id=\"done\""), "{what} ran");
            // Every other field is valid (`fillers`), so a refusal for a field would prove
            // nothing: only "not found" shows the scope held.
            assert_eq!(
                shown.status,
                StatusCode::NOT_FOUND,
                "{what}: {}",
                shown.body
            );
            checked += 1;
        }
        if proves_something(case) {
            own_checks.push((case, filled));
        }
    }
    // Each page finds something of A's given A's own ids of the same kinds: its 404 for B's
    // was the scope's, not that of an id it could never take. After every try of B's, as
    // these change A's own objects.
    let mut vacuous = Vec::new();
    for (case, filled) in own_checks {
        let mut found = false;
        let seconds = seconds(case);
        for (id, second) in tries(case, &mine, ours) {
            let mut fields = vec![("id".to_owned(), id.to_owned())];
            fields.extend(seconds.iter().map(|n| ((*n).clone(), second.to_owned())));
            fields.extend(filled.iter().cloned());
            let status = ask(&app, &secret, &csrf, case, fields).await.status;
            // Found: shown, or refused for a reason that comes only after the lookup.
            let before_lookup = [
                StatusCode::NOT_FOUND,
                StatusCode::BAD_REQUEST,
                StatusCode::UNPROCESSABLE_ENTITY,
            ];
            if !before_lookup.contains(&status) && !status.is_server_error() {
                found = true;
                break;
            }
        }
        if !found {
            vacuous.push(case.tool.as_str());
        }
    }
    assert!(
        vacuous.is_empty(),
        "pages that found nothing of A's own either: {vacuous:?}"
    );
    assert!(checked > 300, "{checked} pages");
    // Only an operator's, an auditor's and the analyst's use cases have no page for A here.
    let elsewhere = [Action::CrossOrg, Action::AuditorAccess, Action::Converse].map(Gate::Action);
    let unexpected: Vec<&str> = not_offered
        .iter()
        .filter(|c| !elsewhere.contains(&c.gate))
        .map(|c| c.tool.as_str())
        .collect();
    assert!(unexpected.is_empty(), "no page for A: {unexpected:?}");

    // B as it was: records, audit log, endpoints and tokens.
    assert_eq!(app.snapshot(b).await, before, "B changed");
    assert_eq!(app.get("/api/endpoints", &bob).await.1, endpoints_before);
    assert_eq!(
        app.get("/api/enrollment-tokens", &bob).await.1,
        tokens_before
    );
}

/// A use case's page asked with `fields` as A's browser asks it: a read or a download by the
/// GET a page's link sends, a change by its form's POST.
async fn ask(
    app: &TestApp,
    secret: &str,
    csrf: &str,
    case: &UseCase,
    mut fields: Vec<(String, String)>,
) -> Seen {
    let path = format!("/app/actions/{}", case.tool);
    let file = matches!(case.output, Output::File(_));
    if !case.hints.read_only && !file {
        let mut all = vec![("_csrf".to_owned(), csrf.to_owned())];
        all.extend(fields);
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        return post(app, Some(secret), &path, &pairs, &[]).await;
    }
    if file {
        fields.push(("_download".into(), "1".into()));
    }
    let query: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let res = no_redirects()
        .get(app.url(&format!("{path}?{}", query.join("&"))))
        .header("cookie", cookie_header(secret))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    seen(res).await
}

/// A JSON value as a generated form posts it: text as is, false as nothing, a list of words
/// comma-separated, anything else as JSON text.
fn form_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        // A checkbox left unticked posts nothing.
        serde_json::Value::Bool(false) => String::new(),
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_string) => items
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}
