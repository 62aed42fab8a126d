//! Who is acting, in which organization, with which role, through which channel.

use crate::{Channel, Email, EndpointId, OrgId, Role, UserId};

/// The identity behind an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person or service account that signed in.
    User {
        id: UserId,
        email: Email,
        /// Entra ID object id, when the user signed in through Entra ID.
        oid: Option<String>,
    },
    /// An enrolled endpoint's agent. Audited as `endpoint:<id>` with the hostname as `upn`.
    Endpoint { id: EndpointId, hostname: String },
    /// The system itself: the operator's admin CLI or a background job. `name` is stable and
    /// appears as the audit `userId` as `system:<name>`; `detail` (for example the operating
    /// system account that ran the CLI) appears as the audit `upn`.
    System { name: &'static str, detail: String },
    /// An outside auditor holding a read-only token for one audit's snapshots. Audited as
    /// `auditor-token:<id>` with the token's label as `upn`; allowed nothing else.
    AuditorToken {
        id: crate::AuditorTokenId,
        audit: crate::RecordId,
        label: String,
    },
}

/// An authenticated caller acting in exactly one organization. Built once per request by
/// authentication and passed down; services never read headers.
///
/// Fields are private so an `Actor` can only come from [`Actor::authenticated`] (called by the
/// service layer's authentication code and nowhere else — an architecture test greps for it)
/// or [`Actor::system`] (for named system operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    principal: Principal,
    org: OrgId,
    role: Role,
    channel: Channel,
    /// Whether the identity has been verified beyond the credential (for MCP write tools).
    verified: bool,
    /// The software that made the call, as it names itself (an MCP client's name and
    /// version); recorded under `_client` in the changes of the entries it causes.
    client: Option<ClientInfo>,
    /// The AI analyst conversation a confirmed action came from; recorded under
    /// `_conversation` in the changes of the entries it causes.
    conversation: Option<crate::ConversationId>,
    /// Reading for the organization's full export, the one thing a terminated organization
    /// still answers during its grace period (see [`Actor::for_final_export`]).
    final_export: bool,
}

/// An MCP client's own account of itself: a claim, kept short and printable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
}

impl ClientInfo {
    /// The longest name or version kept.
    pub const MAX_LEN: usize = 128;

    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: as_it_reads(name, Self::MAX_LEN),
            version: as_it_reads(version, Self::MAX_LEN),
        }
    }
}

/// `text` as a reader sees it, at most `max` characters: only characters that show as
/// themselves, and white space as single spaces between them.
///
/// Dropped: controls; format characters (the bidirectional marks, overrides and isolates that
/// make text read differently from what it holds, zero-width spaces and joiners, tags);
/// everything else Unicode calls default-ignorable (variation selectors, Hangul fillers, the
/// combining grapheme joiner), which renders as nothing; line and paragraph separators;
/// private-use, surrogate and unassigned code points. The braille blank (U+2800), a
/// character Unicode gives a glyph that shows nothing, counts as white space. So two names
/// that look the same are the same string.
fn as_it_reads(text: &str, max: usize) -> String {
    const BRAILLE_BLANK: char = '\u{2800}';
    use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory as G, WhiteSpace};
    use icu_properties::{CodePointMapData, CodePointSetData};
    let category = CodePointMapData::<G>::new();
    let ignorable = CodePointSetData::new::<DefaultIgnorableCodePoint>();
    let space = CodePointSetData::new::<WhiteSpace>();
    let mut out = String::new();
    let mut kept = 0;
    let mut space_before = false;
    for c in text.chars() {
        if space.contains(c) || c == BRAILLE_BLANK {
            space_before = kept > 0;
            continue;
        }
        let hidden = ignorable.contains(c)
            || matches!(
                category.get(c),
                G::Control
                    | G::Format
                    | G::Surrogate
                    | G::PrivateUse
                    | G::Unassigned
                    | G::LineSeparator
                    | G::ParagraphSeparator
            );
        if hidden {
            continue;
        }
        let needed = if space_before { 2 } else { 1 };
        if kept + needed > max {
            break;
        }
        if space_before {
            out.push(' ');
            space_before = false;
        }
        out.push(c);
        kept += needed;
    }
    out
}

impl Actor {
    /// The result of authentication: a verified credential and a membership in `org`.
    pub fn authenticated(
        principal: Principal,
        org: OrgId,
        role: Role,
        channel: Channel,
        verified: bool,
    ) -> Self {
        Self {
            principal,
            org,
            role,
            channel,
            verified,
            client: None,
            conversation: None,
            final_export: false,
        }
    }

    /// The system acting in `org` (admin CLI, demo seeding, background jobs). Greppable on
    /// purpose: every use is a named system operation.
    pub fn system(
        name: &'static str,
        detail: impl Into<String>,
        org: OrgId,
        channel: Channel,
    ) -> Self {
        Self {
            principal: Principal::System {
                name,
                detail: detail.into(),
            },
            org,
            role: Role::SuperAdmin,
            channel,
            verified: true,
            client: None,
            conversation: None,
            final_export: false,
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn org(&self) -> OrgId {
        self.org
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// The same actor, its changes audited as made through `channel` (an MCP client, …).
    pub fn through(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }

    /// The same actor, its changes noting the client software that made them.
    pub fn with_client(mut self, client: Option<ClientInfo>) -> Self {
        self.client = client;
        self
    }

    pub fn client(&self) -> Option<&ClientInfo> {
        self.client.as_ref()
    }

    /// The same actor reading for its organization's full export: the reads it makes open a
    /// terminated organization's data during the grace period. `None` below OrgAdmin (the
    /// export's own role).
    pub fn for_final_export(&self) -> Option<Self> {
        (self.role >= crate::policy::Action::ExportAll.required_role()).then(|| Self {
            final_export: true,
            ..self.clone()
        })
    }

    pub fn is_final_export(&self) -> bool {
        self.final_export
    }

    /// The same actor, its changes noting the analyst conversation they came from.
    pub fn in_conversation(mut self, conversation: crate::ConversationId) -> Self {
        self.conversation = Some(conversation);
        self
    }

    pub fn conversation(&self) -> Option<crate::ConversationId> {
        self.conversation
    }

    pub fn user_id(&self) -> Option<UserId> {
        match &self.principal {
            Principal::User { id, .. } => Some(*id),
            Principal::Endpoint { .. }
            | Principal::System { .. }
            | Principal::AuditorToken { .. } => None,
        }
    }

    pub fn endpoint_id(&self) -> Option<EndpointId> {
        match &self.principal {
            Principal::Endpoint { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The audit an auditor token opens, when the caller holds one.
    pub fn auditor_audit(&self) -> Option<crate::RecordId> {
        match &self.principal {
            Principal::AuditorToken { audit, .. } => Some(*audit),
            _ => None,
        }
    }

    /// The `userId` written to the audit log: the user's id, or `system:<name>`.
    pub fn audit_user_id(&self) -> String {
        match &self.principal {
            Principal::User { id, .. } => id.to_string(),
            Principal::Endpoint { id, .. } => format!("endpoint:{id}"),
            Principal::System { name, .. } => format!("system:{name}"),
            Principal::AuditorToken { id, .. } => format!("auditor-token:{id}"),
        }
    }

    /// The `upn` written to the audit log: the user's e-mail (the UPN for Entra users), or the
    /// system actor's detail.
    pub fn audit_upn(&self) -> String {
        match &self.principal {
            Principal::User { email, .. } => email.to_string(),
            Principal::Endpoint { hostname, .. } => hostname.clone(),
            Principal::System { detail, .. } => detail.clone(),
            // Marked, so a label that looks like someone's address cannot pass for them.
            Principal::AuditorToken { label, .. } => format!("auditor: {label}"),
        }
    }

    pub fn audit_oid(&self) -> Option<String> {
        match &self.principal {
            Principal::User { oid, .. } => oid.clone(),
            Principal::Endpoint { .. }
            | Principal::System { .. }
            | Principal::AuditorToken { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClientInfo;

    #[test]
    fn a_client_name_is_kept_short_and_reads_as_it_is() {
        let c = ClientInfo::new("evil\u{202E}edoc\u{2066}-\n\u{7}claude", "1\u{0}");
        assert_eq!(c.name, "eviledoc- claude");
        assert_eq!(c.version, "1");
        let long = ClientInfo::new(&"n".repeat(1_000_000), "v");
        assert_eq!(long.name.chars().count(), ClientInfo::MAX_LEN);
        let spaced = ClientInfo::new(&format!("a{}", " b".repeat(100)), "v");
        assert_eq!(spaced.name.chars().count(), ClientInfo::MAX_LEN - 1);
        assert!(spaced.name.ends_with('b'));
    }

    #[test]
    fn what_renders_as_nothing_is_dropped() {
        // Direction marks and overrides, zero-width spaces and joiners, the word joiner, the
        // byte-order mark, the soft hyphen, tags, variation selectors, Hangul fillers, the
        // combining grapheme joiner, private use (both planes) and an unassigned code point.
        let hidden = [
            '\u{200E}',
            '\u{200F}',
            '\u{61C}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{AD}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{FE0F}',
            '\u{E0100}',
            '\u{180B}',
            '\u{115F}',
            '\u{1160}',
            '\u{3164}',
            '\u{FFA0}',
            '\u{34F}',
            '\u{E000}',
            '\u{F0000}',
            '\u{50000}',
        ];
        for c in hidden {
            let name = format!("cl{c}aude");
            assert_eq!(
                ClientInfo::new(&name, "1").name,
                "claude",
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn white_space_reads_as_single_spaces_between_words() {
        let c = ClientInfo::new(
            " \u{3000}My\u{A0}\u{2003}client\u{2028}for\u{2029}\tteams\r\n ",
            "\u{A0}2.0 ",
        );
        assert_eq!(c.name, "My client for teams");
        assert_eq!(c.version, "2.0");
        // The braille blank shows as an empty cell: a space, never a name of its own.
        let braille = ClientInfo::new("\u{2800}cl\u{2800}\u{2800}aude\u{2800}", "1");
        assert_eq!(braille.name, "cl aude");
        assert_eq!(ClientInfo::new("\u{2800}\u{2800}", "").name, "");
        assert_eq!(ClientInfo::new("\u{200B} \u{FE0F}", "").name, "");
    }

    #[test]
    fn every_script_and_its_marks_stay() {
        for name in [
            "Клиент 客户端 عميل",
            "e\u{301}te\u{301}",
            "हिन्दी",
            "ภาษาไทย",
            "١٢٣ ४५६",
            "Ω-client (β) «v» — №7",
        ] {
            assert_eq!(ClientInfo::new(name, "v").name, name);
        }
    }
}
