DROP INDEX consultations_system;
DROP TABLE system_idempotency_keys;
DROP TABLE system_events;
DROP TABLE systems;
