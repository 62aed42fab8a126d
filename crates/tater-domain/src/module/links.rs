//! Links between records of any modules, and between a record and a control of the catalog
//! (a risk ↔ its controls ↔ its POA&M items ↔ evidence ↔ tasks). A link has no direction:
//! it is listed from both ends, and goes when either record goes.

use crate::{LinkId, RecordId, Timestamp};

/// The module name a link's control end goes by (`{"module": "controls", "id": "ac-2"}`).
pub const CONTROLS: &str = "controls";

/// One end of a link.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkEnd {
    /// A record of a declared module.
    Record { module: String, id: RecordId },
    /// A control of the catalog, by its canonical id (`ac-2.1`).
    Control(String),
}

impl LinkEnd {
    pub fn record(module: &str, id: RecordId) -> Self {
        Self::Record {
            module: module.to_owned(),
            id,
        }
    }

    /// The module name (`controls` for a control).
    pub fn module(&self) -> &str {
        match self {
            Self::Record { module, .. } => module,
            Self::Control(_) => CONTROLS,
        }
    }

    /// The id as clients write it.
    pub fn id(&self) -> String {
        match self {
            Self::Record { id, .. } => id.to_string(),
            Self::Control(id) => id.clone(),
        }
    }
}

/// A link as stored. `a` is always a record; `b` is a record or a control. Two records are
/// kept in one order (the lesser end first), so a link made from either end is the same
/// link and cannot be made twice.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordLink {
    pub id: LinkId,
    pub a: LinkEnd,
    pub b: LinkEnd,
    /// Audit `userId` of whoever made it.
    pub created_by: String,
    pub at: Timestamp,
}

impl RecordLink {
    /// A new link from a record to another end, in the stored order.
    pub fn new(record: LinkEnd, other: LinkEnd, created_by: String, at: Timestamp) -> Self {
        let (a, b) = match other {
            LinkEnd::Record { .. } if other < record => (other, record),
            _ => (record, other),
        };
        Self {
            id: LinkId::generate(),
            a,
            b,
            created_by,
            at,
        }
    }

    /// The end that is not `from` (the link seen from one of its ends); `None` when `from`
    /// is neither end.
    pub fn seen_from(&self, from: &LinkEnd) -> Option<&LinkEnd> {
        if *from == self.a {
            Some(&self.b)
        } else if *from == self.b {
            Some(&self.a)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_made_from_either_end_is_stored_the_same_way() {
        let x = LinkEnd::record("risks", RecordId::generate());
        let y = LinkEnd::record("poam", RecordId::generate());
        let at = Timestamp::from_millis(0);
        let one = RecordLink::new(x.clone(), y.clone(), "u".into(), at);
        let two = RecordLink::new(y.clone(), x.clone(), "u".into(), at);
        assert_eq!((&one.a, &one.b), (&two.a, &two.b));
        assert_eq!(one.seen_from(&x), Some(&y));
        assert_eq!(one.seen_from(&y), Some(&x));
        let control = LinkEnd::Control("ac-2".into());
        let three = RecordLink::new(x.clone(), control.clone(), "u".into(), at);
        assert_eq!((&three.a, &three.b), (&x, &control));
        assert_eq!(three.seen_from(&control), Some(&x));
        assert_eq!(three.seen_from(&y), None);
    }
}
