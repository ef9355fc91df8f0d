ALTER TABLE consultations DROP COLUMN breached_due_at;
ALTER TABLE consultations DROP COLUMN reminded_due_at;
ALTER TABLE consultations DROP COLUMN sla_paused_at;
ALTER TABLE users DROP COLUMN mail_opt_out;
DROP TABLE outbox;
