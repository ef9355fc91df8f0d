DROP INDEX consultations_system;
DROP TABLE system_events;
DROP TABLE systems;
