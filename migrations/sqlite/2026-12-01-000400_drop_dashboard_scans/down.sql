CREATE INDEX consultations_filed_stats ON consultations(fiscal_year, department_id, created_at, category, state, hearing_at, assigned_at);
CREATE INDEX consultations_resolved_stats ON consultations(resolved_at, department_id, category, assignee_id, assigned_at, resolution_due_at, rating, reopen_count);
