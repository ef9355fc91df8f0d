DROP TABLE idempotency_keys;
DROP TABLE comments;
DROP TABLE consultation_events;
DROP TABLE consultations;
DROP TABLE consultation_counters;
DROP TABLE users;
DROP TABLE departments;
