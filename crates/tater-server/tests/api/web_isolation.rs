//! SPEC T1 on the web application (issue 14): a person signed in to organization A opens no
//! page and no download of organization B, and changes nothing of B's, by any page that
//! takes an id — every module's record pages and forms, the endpoint pages, enrollment
//! tokens, file uploads, and every use case's page (`/app/actions/{tool}`). Ids of B answer
//! 404 (or a form's own validation message), never B's data, and B's records and audit log
//! stay as they were.
//!
//! A use case of one module is tried with B's ids of the kinds it can take: B's record of
//! that module and B's ids that are not records (endpoint, token, link, file, key, person,
//! move, snapshot); its second id (a link, file, move or snapshot under the record) with A's
//! own record of that module holding each of B's ids. A record is looked up by module and
//! organization together, so another module's record is never found: trying one could not
//! show a missing organization condition, and only cost time. A use case of no one module is
//! tried with every id of B's.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tater_domain::Role;
use tater_service::use_cases::{Output, properties, registry};
use tater_testkit::{TestDb, both_engines};

use crate::evidence_files::{multipart, post_upload, upload};
use crate::support::*;
use crate::web::{Seen, cookie_header, csrf_of, no_redirects, page, post, seen, sign_in};

both_engines!(no_page_or_download_reaches_another_organization);

/// What B holds, and the words on its pages that must never show in A's.
struct Theirs {
    /// `(module, record id)` for every module.
    records: Vec<(&'static str, String)>,
    endpoint: String,
    token: String,
    link: String,
    file: String,
    /// Every id above and B's API key's and person's: what the use case sweep tries.
    ids: Vec<String>,
    /// The ids in `ids` that are not module records (endpoint, token, link, file, key,
    /// person, move, snapshot).
    others: Vec<String>,
    /// Titles and names only B's pages show.
    secrets: Vec<String>,
}

async fn theirs(app: &TestApp, bob: &Key) -> Theirs {
    let mut records = Vec::new();
    let mut secrets = Vec::new();
    for module in modules() {
        let secret = format!("B-only {module}");
        let mut body = sample(module, 1);
        body[label_field(module)] = json!(secret);
        let made = app.create(module, bob, body).await;
        records.push((module, made["id"].as_str().unwrap().to_owned()));
        secrets.push(secret);
    }
    let record = |m: &str| records.iter().find(|(n, _)| *n == m).unwrap().1.clone();
    let (s, link) = app
        .send(
            Method::POST,
            &format!("/api/poam/{}/links", record("poam")),
            bob,
            &json!({ "to": { "module": "risks", "id": record("risks") } }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{link}");
    let (s, file) = upload(
        app,
        bob,
        &record("evidence"),
        "b-minutes.txt",
        "text/plain",
        b"B-only minutes".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{file}");
    let (s, made) = app
        .send(
            Method::POST,
            "/api/enrollment-tokens",
            bob,
            &json!({ "label": "B-only rollout" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let (s, enrolled) = enroll(app, made["token"].as_str().unwrap(), "b-only-host").await;
    assert_eq!(s, StatusCode::CREATED, "{enrolled}");
    let (s, key) = app
        .send(
            Method::POST,
            "/api/api-keys",
            bob,
            &json!({ "name": "B-only key" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let (_, me) = app.get("/api/me", bob).await;
    // A move of B's exception and a snapshot of B's audit: ids a second field takes.
    let moves = format!("/api/exceptions/{}/transitions", record("exceptions"));
    let (s, moved) = app
        .send(Method::POST, &moves, bob, &json!({ "to": "Under Review" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    let (_, history) = app.get(&moves, bob).await;
    let transition = history["items"][0]["id"].as_str().unwrap().to_owned();
    let snapshots = format!("/api/audits/{}/snapshots", record("audits"));
    let (s, snapshot) = app.send(Method::POST, &snapshots, bob, &json!(null)).await;
    assert_eq!(s, StatusCode::CREATED, "{snapshot}");
    secrets.extend(
        [
            "B-only minutes",
            "b-minutes.txt",
            "b-only-host",
            "B-only rollout",
            "B-only key",
        ]
        .map(String::from),
    );
    let mut out = Theirs {
        records,
        endpoint: enrolled["endpointId"].as_str().unwrap().to_owned(),
        token: made["id"].as_str().unwrap().to_owned(),
        link: link["id"].as_str().unwrap().to_owned(),
        file: file["id"].as_str().unwrap().to_owned(),
        ids: Vec::new(),
        others: Vec::new(),
        secrets,
    };
    out.others = vec![
        out.endpoint.clone(),
        out.token.clone(),
        out.link.clone(),
        out.file.clone(),
        key["id"].as_str().unwrap().to_owned(),
        me["user"]["id"].as_str().unwrap().to_owned(),
        transition,
        snapshot["id"].as_str().unwrap().to_owned(),
    ];
    out.ids = out.records.iter().map(|(_, id)| id.clone()).collect();
    out.ids.extend(out.others.iter().cloned());
    out
}

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
    let theirs = theirs(&app, &bob).await;
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
    // A's record). Reads and downloads answer 404; changes are refused (404, or their form
    // again when an id is not even the kind they take). Downloads ask as a page's link does.
    let ann = app.api_key_of("ann@a.test", Some(a)).await;
    // A's own record of every module, to hold B's ids in a second id (links, files, moves,
    // snapshots).
    let mut ours: Vec<(&str, String)> = Vec::new();
    for module in modules() {
        let made = app.create(module, &ann, sample(module, 3)).await;
        ours.push((module, made["id"].as_str().unwrap().to_owned()));
    }
    for case in registry().iter() {
        let props = properties(&case.input_schema());
        let file = matches!(case.output, Output::File(_));
        if !props.contains_key("id") || (case.invoke.is_none() && !file) || case.tool.is_empty() {
            continue;
        }
        // The second ids: other properties that name a record (`fileId`, `snapshotId`, …).
        let seconds: Vec<&String> = props
            .iter()
            .filter(|(name, p)| *name != "id" && p["format"] == "uuid")
            .map(|(name, _)| name)
            .collect();
        let module = module_of(case);
        // B's ids it can take: its module's record and the ids that are not records (see the
        // module's doc), or every id when it belongs to no module.
        let firsts: Vec<&String> = match module {
            Some(m) => theirs
                .records
                .iter()
                .filter(|(n, _)| *n == m)
                .map(|(_, id)| id)
                .chain(&theirs.others)
                .collect(),
            None => theirs.ids.iter().collect(),
        };
        let mut tries: Vec<(&str, &str)> =
            firsts.iter().map(|b| (b.as_str(), b.as_str())).collect();
        if !seconds.is_empty() {
            for (_, mine) in ours.iter().filter(|(n, _)| module.is_none_or(|m| m == *n)) {
                tries.extend(theirs.ids.iter().map(|b| (mine.as_str(), b.as_str())));
            }
        }
        for (id, second) in tries {
            let mut fields = vec![("id".to_owned(), id.to_owned())];
            fields.extend(seconds.iter().map(|n| ((*n).clone(), second.to_owned())));
            let shown = if case.hints.read_only || file {
                if file {
                    fields.push(("_download".into(), "1".into()));
                }
                let query: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let res = no_redirects()
                    .get(app.url(&format!("/app/actions/{}?{}", case.tool, query.join("&"))))
                    .header("cookie", cookie_header(&secret))
                    .header("sec-fetch-site", "same-origin")
                    .send()
                    .await
                    .unwrap();
                seen(res).await
            } else {
                send(format!("/app/actions/{}", case.tool), fields).await
            };
            let what = format!("{} with {id} and {second}", case.tool);
            shows_nothing_of(&shown, &theirs, &what);
            assert!(!shown.body.contains("id=\"done\""), "{what} ran");
            assert!(
                shown.status == StatusCode::NOT_FOUND
                    || (shown.status == StatusCode::OK && shown.body.contains("role=\"alert\"")),
                "{what}: {} {}",
                shown.status,
                shown.body
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked} pages");

    // B as it was: records, audit log, endpoints and tokens.
    assert_eq!(app.snapshot(b).await, before, "B changed");
    assert_eq!(app.get("/api/endpoints", &bob).await.1, endpoints_before);
    assert_eq!(
        app.get("/api/enrollment-tokens", &bob).await.1,
        tokens_before
    );
}
