DROP INDEX consultations_resolved_stats;
DROP INDEX consultations_filed_stats;
ALTER TABLE consultations DROP COLUMN reopen_count;
ALTER TABLE consultations DROP COLUMN assigned_at;
