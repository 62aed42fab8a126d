"""Checks of Tater's own that schemathesis runs on every answer (scripts/api-conformance loads
this file through SCHEMATHESIS_HOOKS).

* no_foreign_data: another organization was filled with records carrying a canary text;
  no answer to this organization's credential may contain that text or that organization's
  id (TATER_ST_FOREIGN: comma-separated).
* role_ceiling: the API document names the least role of each operation
  (`x-tater-min-role`); a caller below it (TATER_ST_ROLE) never gets a 2xx, and no member
  gets one from an operation that only an endpoint agent's credential or an auditor token may
  call (`x-tater-action` `agent-report`, `auditor-access`).
"""

import os

import schemathesis

# "agent" is the least role: anything signed in (an agent reads the check catalog too).
RANK = {"agent": 0, "viewer": 1, "auditor": 2, "admin": 3, "orgadmin": 4, "superadmin": 5}
OTHER_CREDENTIALS = {"agent-report", "auditor-access"}
FOREIGN = [s for s in os.environ.get("TATER_ST_FOREIGN", "").split(",") if s]
ROLE = os.environ.get("TATER_ST_ROLE", "orgadmin")


@schemathesis.check
def no_foreign_data(ctx, response, case):
    text = response.content.decode("utf-8", "replace")
    for secret in FOREIGN:
        if secret in text:
            raise AssertionError(
                f"{case.method} {case.formatted_path} answered with another organization's "
                f"data ({secret!r}) to a {ROLE}"
            )


@schemathesis.check
def role_ceiling(ctx, response, case):
    if not 200 <= response.status_code < 300:
        return
    op = case.operation.definition.raw
    least = op.get("x-tater-min-role")
    if least is None:
        return  # public, or any signed-in person
    if op.get("x-tater-action") in OTHER_CREDENTIALS or RANK.get(least, 99) > RANK[ROLE]:
        raise AssertionError(
            f"{case.method} {case.formatted_path} needs {least} but answered "
            f"{response.status_code} to a {ROLE}"
        )
