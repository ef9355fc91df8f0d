ALTER TABLE consultations DROP COLUMN filed_by;
DROP TABLE inquiry_idempotency_keys;
DROP TABLE inquiry_comments;
DROP TABLE inquiry_events;
DROP TABLE inquiries;
DROP TABLE inquiry_counters;
