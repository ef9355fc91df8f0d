-- Notifications: the outbox written in the same transaction as the event that
-- caused it, per-user opt-outs, and the SLA pause while waiting on the requester.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    consultation_id BIGINT REFERENCES consultations(id),
    recipient_id BIGINT REFERENCES users(id),
    recipient_email TEXT NOT NULL,
    locale TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    calendar TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_status_next ON outbox(status, next_attempt_at);
CREATE INDEX outbox_consultation ON outbox(consultation_id);

ALTER TABLE users ADD COLUMN mail_opt_out TEXT NOT NULL DEFAULT '';
ALTER TABLE consultations ADD COLUMN sla_paused_at TIMESTAMP;
-- The due time a reminder and a breach notice went out for: each goes once per due time.
ALTER TABLE consultations ADD COLUMN reminded_due_at TIMESTAMP;
ALTER TABLE consultations ADD COLUMN breached_due_at TIMESTAMP;
