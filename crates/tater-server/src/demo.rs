//! `tater serve --demo`: a demo organization with realistic sample data, seeded idempotently.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use tater_domain::module::ModuleDef;
use tater_domain::modules::{
    AUDITS, BCP_PLANS, CONFIG_DOCS, EVIDENCE, EXCEPTIONS, FINDINGS, PEOPLE, POAM, POLICIES,
    REGULATORY_CHANGES, RISKS, TASKS, TRAINING_COURSES, VENDORS,
};
use tater_domain::{Actor, Channel, Role};
use tater_service::{
    AdminOrgRef, LinkInput, LinkTarget, Service, ServiceError, SystemOperator, TransitionInput,
};
use time::Duration;

pub const DEMO_ORG: &str = "Demo Organization";
pub const DEMO_EMAIL: &str = "demo@tater.local";

/// The demo account, printed at start-up.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub email: String,
    pub password: String,
}

fn operator() -> SystemOperator {
    SystemOperator {
        name: "demo-seed",
        detail: "tater serve --demo".into(),
    }
}

/// Ensures the demo organization, its OrgAdmin account (password kept in `password_file`,
/// owner-only) and its sample records exist. Running it again changes nothing.
pub async fn seed(service: &Service, password_file: &Path) -> anyhow::Result<DemoLogin> {
    let op = operator();
    let org = match service.admin_find_org(AdminOrgRef(DEMO_ORG)).await {
        Ok(org) => org,
        Err(ServiceError::NotFound) => service.admin_create_org(&op, DEMO_ORG, None).await?,
        Err(e) => return Err(e.into()),
    };
    let stored = std::fs::read_to_string(password_file)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| s.len() >= 12);
    let password = match stored {
        Some(p) => p,
        None => {
            let p = tater_service::generate_api_key().replace(tater_service::API_KEY_PREFIX, "")
                [..20]
                .to_owned();
            crate::config::write_private(password_file, &p).context("saving the demo password")?;
            p
        }
    };
    let org_ref = org.id.to_string();
    let (_, created) = service
        .admin_create_user(
            &op,
            AdminOrgRef(&org_ref),
            DEMO_EMAIL,
            Role::OrgAdmin,
            Some(&password),
            None,
        )
        .await?;
    if !created && service.login(DEMO_EMAIL, &password).await.is_err() {
        service
            .admin_set_password(&op, DEMO_EMAIL, &password)
            .await?;
    }
    let actor = Actor::system(op.name, op.detail.clone(), org.id, Channel::Api);
    let mut untouched = true;
    for def in [&POAM, &RISKS, &CONFIG_DOCS] {
        untouched &= is_empty(service, &actor, def).await?;
    }
    if untouched {
        let today = service.now().date();
        let day = |offset: i64| tater_domain::time::format_date(today + Duration::days(offset));
        let mut made: Vec<(&'static ModuleDef, String)> = Vec::new();
        let mut keep = |def: &'static ModuleDef, v: &Value| {
            if let Some(id) = v["id"].as_str() {
                made.push((def, id.to_owned()));
            }
        };
        for body in poams(&day) {
            keep(&POAM, &service.create_record(&actor, &POAM, &body).await?);
        }
        for body in risks() {
            keep(&RISKS, &service.create_record(&actor, &RISKS, &body).await?);
        }
        for body in config_docs() {
            service.create_record(&actor, &CONFIG_DOCS, &body).await?;
        }
        for body in tasks(&day) {
            keep(
                &TASKS,
                &create_in_state(service, &actor, &TASKS, body).await?,
            );
        }
        for body in evidence(&day) {
            keep(
                &EVIDENCE,
                &create_in_state(service, &actor, &EVIDENCE, body).await?,
            );
        }
        for body in exceptions(&day) {
            create_in_state(service, &actor, &EXCEPTIONS, body).await?;
        }
        for body in people() {
            service.create_record(&actor, &PEOPLE, &body).await?;
        }
        for (def, body) in registers(&day) {
            service.create_record(&actor, def, &body).await?;
        }
        audit_sample(service, &actor, &day).await?;
        policy_sample(service, &actor, org.id, &day).await?;
        link_samples(service, &actor, &made).await?;
        // What the SSP and the eMASS header block show: a system and some tailoring.
        service
            .put_system_profile(&actor, &system_profile())
            .await?;
        for (control, body) in overlays() {
            service.put_overlay(&actor, control, &body).await?;
        }
    }
    Ok(DemoLogin {
        email: DEMO_EMAIL.into(),
        password,
    })
}

/// Creates a record of a module with a status flow and moves it to the sample's status, as a
/// person would: the status of such a record changes only through transitions.
async fn create_in_state(
    service: &Service,
    actor: &Actor,
    def: &'static ModuleDef,
    mut body: Value,
) -> anyhow::Result<Value> {
    let state = match (def.flow, body.as_object_mut()) {
        (Some(flow), Some(o)) => o.remove(flow.field).filter(|s| s != flow.initial),
        _ => None,
    };
    let created = service.create_record(actor, def, &body).await?;
    if let (Some(Value::String(to)), Some(id)) = (state, created["id"].as_str()) {
        let input = TransitionInput {
            to,
            comment: Some("Demo sample".into()),
        };
        return Ok(service.transition_record(actor, def, id, &input).await?);
    }
    Ok(created)
}

/// Links the first risk to the first POA&M item, task and evidence, and the first evidence to
/// AC-2, so the record pages show how a program's pieces hang together.
async fn link_samples(
    service: &Service,
    actor: &Actor,
    made: &[(&'static ModuleDef, String)],
) -> anyhow::Result<()> {
    let first = |def: &ModuleDef| {
        made.iter()
            .find(|(d, _)| d.name == def.name)
            .map(|(d, id)| (*d, id.clone()))
    };
    let (Some((risks, risk)), Some((evidence, proof))) = (first(&RISKS), first(&EVIDENCE)) else {
        return Ok(());
    };
    let mut links = vec![(evidence, proof.clone(), "controls", "ac-2".to_owned())];
    for def in [&POAM, &TASKS, &EVIDENCE] {
        if let Some((d, id)) = first(def) {
            links.push((risks, risk.clone(), d.name, id));
        }
    }
    for (def, id, module, to) in links {
        let input = LinkInput {
            to: LinkTarget {
                module: module.to_owned(),
                id: to,
            },
        };
        service.add_link(actor, def, &id, &input).await?;
    }
    Ok(())
}

/// An assessment in fieldwork with one finding (which opens its corrective-action task) and
/// a snapshot of its scope, so the audit pages and the auditor's view have something to show.
async fn audit_sample(
    service: &Service,
    actor: &Actor,
    day: &dyn Fn(i64) -> String,
) -> anyhow::Result<()> {
    let audit = json!({"title": "CMMC Level 2 readiness assessment", "framework": "CMMC",
        "status": "Fieldwork", "periodStart": day(-14), "periodEnd": day(30),
        "scope": ["AC-2", "AU-6", "CP-9", "IA-5"], "leadAuditor": "assessor@c3pao.example",
        "auditingBody": "Example C3PAO",
        "scopeNotes": "Corporate network and the engineering VPN; the lab VLAN is out of scope."});
    let audit = create_in_state(service, actor, &AUDITS, audit).await?;
    let Some(id) = audit["id"].as_str() else {
        return Ok(());
    };
    let finding = json!({"title": "Dormant VPN accounts not disabled after 35 days",
        "audit": id, "severity": "Moderate", "control": "AC-2",
        "description": "Four VPN accounts had no sign-in for over 90 days and were still enabled.",
        "recommendation": "Disable accounts after 35 days of inactivity; review the list monthly.",
        "owner": DEMO_EMAIL, "dueDate": day(21)});
    service.create_record(actor, &FINDINGS, &finding).await?;
    service.take_snapshot(actor, id).await?;
    Ok(())
}

/// A published access-control policy (version 1, for the demo account to acknowledge) and a
/// draft of its successor. Publishing is a second person's: the demo's reviewer, another
/// named system actor, approves what the seed sent for review.
async fn policy_sample(
    service: &Service,
    actor: &Actor,
    org: tater_domain::OrgId,
    day: &dyn Fn(i64) -> String,
) -> anyhow::Result<()> {
    let body = "# Purpose\n\nThis policy sets how accounts on the organization's systems are \
        requested, approved, reviewed and removed (NIST SP 800-53 AC-1, AC-2).\n\n\
        ## Rules\n\n1. Every account has a named owner and a documented business need.\n\
        2. Accounts are **reviewed every quarter** by their owners; unclaimed accounts are \
        disabled within five working days.\n3. Accounts unused for 35 days are disabled \
        automatically.\n4. Shared and generic accounts are forbidden unless an exception \
        is approved.\n\n## Responsibilities\n\n- *System owners* approve access requests.\n\
        - *The ISSO* runs the quarterly review and keeps its evidence.\n\n\
        > Questions go to the security team.";
    let policy = json!({"title": "Account Management Policy", "category": "Access Control",
        "owner": DEMO_EMAIL, "effectiveDate": day(0), "reviewBy": day(365),
        "controls": ["AC-1", "AC-2"], "body": body});
    let created = service.create_record(actor, &POLICIES, &policy).await?;
    let Some(id) = created["id"].as_str() else {
        return Ok(());
    };
    let moves = [
        (actor.clone(), "In Review"),
        (
            Actor::system("demo-reviewer", "tater serve --demo", org, Channel::Api),
            "Published",
        ),
    ];
    for (who, to) in moves {
        let input = TransitionInput {
            to: to.into(),
            comment: Some("Demo sample".into()),
        };
        service
            .transition_record(&who, &POLICIES, id, &input)
            .await?;
    }
    let draft = json!({"title": "Incident Response Policy", "category": "Incident Response",
        "owner": DEMO_EMAIL, "effectiveDate": day(30), "controls": ["IR-1", "IR-8"],
        "body": "# Purpose\n\nHow incidents are reported, triaged and closed.\n\n\
        ## Reporting\n\nReport suspected incidents to the security team within one hour."});
    service.create_record(actor, &POLICIES, &draft).await?;
    Ok(())
}

/// Samples are added only to an organization that has no records of any module, so a demo
/// someone has started using is never topped up or duplicated.
async fn is_empty(
    service: &Service,
    actor: &Actor,
    def: &'static ModuleDef,
) -> Result<bool, ServiceError> {
    let q = service.list_query(def, &[("limit".into(), "1".into())], &[])?;
    Ok(service.list_records(actor, def, &q).await?.items.is_empty())
}

fn poams(day: &dyn Fn(i64) -> String) -> Vec<Value> {
    vec![
        json!({
            "title": "Privileged accounts not reviewed quarterly",
            "weaknessDescription": "Domain admin and cloud owner accounts were last reviewed eight months ago; two belong to staff who changed roles.",
            "impact": "High", "status": "Open", "scheduledCompletion": day(-12),
            "controls": ["AC-2", "AC-2(3)", "AC-6(7)"], "source": "Internal assessment Q3",
            "asset": "Active Directory; Azure tenant", "pointOfContact": "Dana Whitfield, IAM lead",
            "resourcesRequired": "40 hours IAM staff time",
            "milestones": [
                {"description": "Export privileged account inventory", "status": "Completed", "scheduledCompletion": day(-30), "completionDate": day(-28)},
                {"description": "Owners attest each account", "status": "In Progress", "scheduledCompletion": day(-12)},
                {"description": "Automate quarterly review in IGA tool", "scheduledCompletion": day(60)}
            ]
        }),
        json!({
            "title": "Multi-factor authentication missing for VPN contractors",
            "weaknessDescription": "Contractor VPN profile accepts password-only sign-in.",
            "impact": "High", "status": "In Progress", "scheduledCompletion": day(21),
            "controls": ["IA-2(1)", "IA-2(2)"], "source": "Penetration test 2026-09",
            "asset": "Remote access gateway", "pointOfContact": "Sam Ortiz, network engineering",
            "milestones": [{"description": "Enroll contractors in FIDO2 keys", "status": "In Progress", "scheduledCompletion": day(14)}]
        }),
        json!({
            "title": "Audit logs retained for only 30 days",
            "weaknessDescription": "Firewall and server logs roll over after 30 days; policy requires one year.",
            "impact": "Moderate", "status": "Open", "scheduledCompletion": day(45),
            "controls": ["AU-11", "AU-4"], "source": "Continuous monitoring", "asset": "SIEM",
            "pointOfContact": "Priya Raman, SOC manager", "resourcesRequired": "Additional 4 TB archive storage"
        }),
        json!({
            "title": "Critical patches applied late on engineering workstations",
            "weaknessDescription": "Median time to patch critical vulnerabilities is 41 days against a 15-day target.",
            "impact": "High", "status": "Open", "scheduledCompletion": day(-3),
            "controls": ["SI-2", "SI-2(2)", "RA-5"], "source": "Vulnerability scan", "asset": "Engineering workstations (212)",
            "pointOfContact": "Lee Chen, desktop engineering"
        }),
        json!({
            "title": "Incident response plan not tested this year",
            "weaknessDescription": "No tabletop or functional exercise of the incident response plan in the last 12 months.",
            "impact": "Moderate", "status": "Completed", "scheduledCompletion": day(-20), "completionDate": day(-25),
            "controls": ["IR-3"], "source": "Annual assessment", "pointOfContact": "Priya Raman, SOC manager"
        }),
        json!({
            "title": "Legacy FTP service flagged by scanner",
            "weaknessDescription": "Scanner reported an FTP banner on 10.2.4.17.",
            "impact": "Low", "status": "False Positive",
            "justification": "The host runs an FTP honeypot for the SOC; no data is stored and it is isolated in the deception VLAN.",
            "controls": ["CM-7"], "source": "Vulnerability scan", "asset": "10.2.4.17"
        }),
        json!({
            "title": "Backup restores not verified for HR system",
            "weaknessDescription": "Backups complete nightly but no restore has been tested for the HR system.",
            "impact": "Moderate", "status": "Risk Accepted", "scheduledCompletion": day(90),
            "controls": ["CP-9", "CP-9(1)"], "source": "Internal audit", "asset": "HRIS",
            "pointOfContact": "Morgan Blake, infrastructure"
        }),
        json!({
            "title": "Security awareness training below 95% completion",
            "weaknessDescription": "Annual training completion is 81%; 37 staff are overdue.",
            "impact": "Low", "status": "In Progress", "scheduledCompletion": day(30),
            "controls": ["AT-2"], "source": "HR report", "pointOfContact": "Jordan Lee, security awareness"
        }),
    ]
}

fn risks() -> Vec<Value> {
    vec![
        json!({"title": "Ransomware encrypts file servers", "category": "Operational", "owner": "CIO",
               "likelihood": 3, "impact": 5, "sle": 850000, "aro": 0.3, "treatment": "Mitigate",
               "treatmentPlan": "Immutable backups, EDR on all servers, segmentation of file shares.",
               "residualLikelihood": 2, "residualImpact": 4, "controls": ["CP-9", "SI-3", "SC-7"]}),
        json!({"title": "CUI exposed through misconfigured cloud storage", "category": "Compliance", "owner": "CISO",
               "likelihood": 2, "impact": 5, "sle": 1200000, "aro": 0.1, "treatment": "Mitigate",
               "treatmentPlan": "Policy-as-code guardrails; weekly public-bucket scan.", "controls": ["AC-3", "SC-28"]}),
        json!({"title": "Key supplier fails CMMC Level 2 assessment", "category": "Strategic", "owner": "Supply chain director",
               "likelihood": 3, "impact": 4, "sle": 400000, "aro": 0.25, "treatment": "Transfer",
               "treatmentPlan": "Flow-down clauses and an alternate qualified supplier.", "controls": ["SR-6", "SA-9"]}),
        json!({"title": "Phishing leads to payroll diversion", "category": "Financial", "owner": "CFO",
               "likelihood": 4, "impact": 3, "sle": 60000, "aro": 1.5, "treatment": "Mitigate",
               "treatmentPlan": "Call-back verification for bank detail changes.", "residualLikelihood": 2, "residualImpact": 3,
               "controls": ["AT-2", "IA-2"]}),
        json!({"title": "End-of-life database server", "category": "Technical", "owner": "Infrastructure manager",
               "likelihood": 3, "impact": 3, "sle": 90000, "aro": 0.5, "treatment": "Avoid",
               "treatmentPlan": "Migrate to the supported cluster by next quarter.", "controls": ["SA-22"]}),
        json!({"title": "Public disclosure of a breach harms reputation", "category": "Reputational", "owner": "CEO",
               "likelihood": 2, "impact": 4, "treatment": "Accept", "treatmentPlan": "Crisis communications plan maintained."}),
        json!({"title": "Insider copies design files to personal storage", "category": "Operational", "owner": "CISO",
               "likelihood": 2, "impact": 4, "sle": 300000, "aro": 0.2, "treatment": "Mitigate",
               "treatmentPlan": "DLP on endpoints; USB storage blocked.", "controls": ["AC-19", "SC-7(10)"]}),
        json!({"title": "Regulatory change in DFARS reporting", "category": "Compliance", "owner": "Compliance lead",
               "treatment": "Accept"}),
    ]
}

fn tasks(day: &dyn Fn(i64) -> String) -> Vec<Value> {
    vec![
        json!({"title": "Quarterly access review for the engineering VPN", "priority": "High",
               "status": "In Progress", "assignee": DEMO_EMAIL, "dueDate": day(5), "controls": ["AC-2", "AC-17"]}),
        json!({"title": "Renew the incident response tabletop", "priority": "Medium",
               "assignee": "ciso@tater.local", "dueDate": day(-3), "controls": ["IR-3"]}),
        json!({"title": "Collect backup restore test results", "priority": "Low", "status": "Done",
               "dueDate": day(-10), "controls": ["CP-9"]}),
    ]
}

fn evidence(day: &dyn Fn(i64) -> String) -> Vec<Value> {
    vec![
        json!({"title": "Access review minutes, Q3", "status": "accepted", "collectedOn": day(-40),
               "validUntil": day(50), "controls": ["AC-2"], "source": "Quarterly review meeting",
               "description": "All 42 VPN accounts reviewed; 3 removed (leavers), 1 downgraded."}),
        json!({"title": "SIEM forwarding screenshot", "status": "draft", "collectedOn": day(-1),
               "controls": ["AU-6"], "collectedBy": "agent"}),
    ]
}

fn exceptions(day: &dyn Fn(i64) -> String) -> Vec<Value> {
    vec![
        json!({"title": "Legacy lab controller keeps SMBv1", "control": "CM-7", "riskLevel": "High",
                "justification": "The spectrometer's vendor software speaks only SMBv1; replacement is budgeted for next year.",
                "compensatingControls": "Isolated VLAN, no internet route, file transfer through a scanning gateway.",
                "requestedUntil": day(180)}),
    ]
}

fn people() -> Vec<Value> {
    vec![
        json!({"name": "Dana Whitfield", "email": "ciso@tater.local", "department": "Security",
               "title": "CISO"}),
        json!({"name": "Ravi Natarajan", "email": "it-ops@tater.local", "department": "IT Operations",
               "title": "Systems administrator"}),
    ]
}

/// A first entry in the other registers (the data labels are every organization's own from
/// the start).
fn registers(day: &dyn Fn(i64) -> String) -> Vec<(&'static ModuleDef, Value)> {
    let mut out: Vec<(&'static ModuleDef, Value)> = Vec::new();
    out.extend([
        (&BCP_PLANS, json!({"title": "Headquarters continuity plan", "owner": "ciso@tater.local",
            "status": "Active", "rtoHours": 8, "rpoHours": 4, "criticalProcesses": ["payroll", "contract delivery"],
            "lastTested": day(-400), "nextTest": day(-35), "nextReview": day(30), "controls": ["CP-2", "CP-4"]})),
        (&VENDORS, json!({"name": "Northwind Managed Cloud", "riskTier": "High", "status": "Active",
            "services": "IaaS hosting of the mission support system", "dataShared": ["CUI"],
            "contractStart": day(-300), "contractEnd": day(430), "owner": "it-ops@tater.local",
            "nextAssessment": day(20), "controls": ["SA-9", "SR-6"]})),
        (&TRAINING_COURSES, json!({"title": "CUI handling and insider threat awareness",
            "provider": "In-house", "durationMinutes": 40, "frequency": "Annual", "controls": ["AT-2", "AT-2(2)"]})),
        (&REGULATORY_CHANGES, json!({"title": "CMMC program rule (32 CFR 170)", "regulation": "32 CFR Part 170",
            "jurisdiction": "US (DoD)", "effectiveDate": day(-60), "impact": "High",
            "summary": "Level 2 assessments required in new DoD contracts.", "controls": ["CA-2"]})),
    ]);
    out
}

fn config_docs() -> Vec<Value> {
    vec![
        json!({"title": "SSH server baseline", "tags": ["linux", "baseline"], "controls": ["CM-6", "AC-17"],
               "body": "# SSH server baseline\n\n- `PermitRootLogin no`\n- `PasswordAuthentication no`\n- `MaxAuthTries 4`\n- `ClientAliveInterval 300`\n"}),
        json!({"title": "Windows workstation hardening", "tags": ["windows", "baseline"], "controls": ["CM-6", "CM-7"],
               "body": "# Windows workstation hardening\n\nApply the DISA STIG GPO pack; BitLocker with TPM+PIN; Credential Guard on.\n"}),
        json!({"title": "Log forwarding standard", "tags": ["logging"], "controls": ["AU-6", "AU-9"],
               "body": "# Log forwarding\n\nAll servers forward to the SIEM over TLS (RFC 5425) within 60 seconds.\n"}),
    ]
}

fn system_profile() -> Value {
    json!({
        "name": "Demo Mission Support System", "abbreviation": "DMSS",
        "description": "Web portal, API tier and PostgreSQL database that process contract data (CUI) for the demo organization.",
        "status": "operational",
        "confidentiality": "moderate", "integrity": "moderate", "availability": "low",
        "informationTypes": [
            { "title": "Controlled Unclassified Information", "description": "Contract and proposal data.", "confidentiality": "moderate", "integrity": "moderate", "availability": "low" },
        ],
        "authorizationBoundary": "Two cloud VPCs (web and data tiers), the office LAN's admin jump hosts and the CI runners that deploy to them.",
        "networkArchitecture": "Internet → WAF → load balancer → web tier → API tier → database; administration only through the jump hosts over SSH with MFA.",
        "dataFlow": "Users upload contract documents through the portal over TLS 1.3; the API tier stores them encrypted in the database and object storage.",
        "systemOwnerName": "Dana Owner", "systemOwnerEmail": "owner@tater.local",
        "issoName": "Ivy Isso", "issoEmail": "isso@tater.local", "issoPhone": "555-0100",
        "authorizingOfficialName": "Al Official", "authorizingOfficialEmail": "ao@tater.local",
        "component": "Demo Agency", "systemType": "IS Major Application",
        "baseline": "nist-800-53-rev5-moderate",
    })
}

fn overlays() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ac-2",
            json!({ "implementationStatus": "implemented", "responsibleRoles": ["Identity Team"],
                         "narrative": "Accounts are provisioned from the HR system into Entra ID; access reviews run quarterly and leavers are disabled within 24 hours." }),
        ),
        (
            "ia-2",
            json!({ "implementationStatus": "implemented", "responsibleRoles": ["Identity Team"],
                         "narrative": "Every interactive sign-in uses Entra ID with phishing-resistant MFA." }),
        ),
        (
            "au-2",
            json!({ "implementationStatus": "partial", "responsibleRoles": ["Security Operations"],
                         "narrative": "Servers forward audit events to the SIEM; workstation coverage is in progress (see the POA&M)." }),
        ),
        (
            "cm-6",
            json!({ "implementationStatus": "implemented", "responsibleRoles": ["Platform Team"],
                         "narrative": "Hardened baselines (see the configuration documents) are enforced by configuration management and verified by the Tater agent." }),
        ),
        (
            "si-2",
            json!({ "implementationStatus": "planned", "responsibleRoles": ["Platform Team"],
                         "narrative": "Automated patching of the web tier is planned; critical patches are applied by hand within 15 days until then." }),
        ),
        (
            "pe-3",
            json!({ "applicability": "not-applicable",
                         "justification": "The system runs in a FedRAMP-authorized cloud; the provider implements physical access control." }),
        ),
    ]
}
