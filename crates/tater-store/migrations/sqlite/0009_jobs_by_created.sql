-- Job history is listed newest first (GET /api/jobs, exports).
CREATE INDEX jobs_by_created ON jobs (tenant_id, created_at, id);
