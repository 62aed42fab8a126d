-- Re-enrolling an existing hostname needs the endpoint's current credential or an Admin's
-- one-time allowance, which expires at this time (finding: takeover by re-enrollment).
ALTER TABLE endpoints ADD COLUMN reenroll_allowed_until BIGINT;
-- A token may name the only hostnames it enrolls (a JSON array; NULL: any).
ALTER TABLE enrollment_tokens ADD COLUMN hostnames TEXT;
