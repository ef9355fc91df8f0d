DROP INDEX consultations_resolved;
ALTER TABLE consultations DROP COLUMN reopen_count;
ALTER TABLE consultations DROP COLUMN assigned_at;
