//! Which use cases an assistant acting for a caller is offered as tools: one rule for the MCP
//! server and the AI analyst, so both show a member the same tools.

use tater_domain::Role;
use tater_domain::policy::authorize;

use super::{Caller, Gate, UseCase};
use crate::McpPolicy;

/// Whether `caller` may call `case` through an assistant at all: it is a tool, the caller's
/// role passes its gate, and a change needs at least Admin (no silent writes: an assistant
/// acting for a Viewer or an Auditor changes nothing). The identity step is the exception:
/// anyone may verify who they are. A tool the caller may not call is neither listed nor
/// callable.
pub fn callable(case: &UseCase, caller: &Caller) -> bool {
    let gate = match case.gate {
        Gate::Public => false,
        Gate::Signed => true,
        Gate::Action(action) => authorize(&caller.actor, action).is_ok(),
    };
    let role = case.hints.read_only || case.identity_step || caller.actor.role() >= Role::Admin;
    case.is_tool() && gate && role
}

/// Whether `case` is offered to `caller`: callable by its role, and allowed by the
/// organization's tool policy (which never hides the identity step).
pub fn offered(case: &UseCase, caller: &Caller, policy: &McpPolicy) -> bool {
    callable(case, caller) && (case.identity_step || policy.allows(&case.tool, caller.actor.role()))
}
