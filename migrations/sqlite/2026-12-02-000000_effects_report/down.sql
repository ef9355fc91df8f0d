DROP TABLE effects_settings;
DROP TABLE effects_year_events;
DROP TABLE effects_years;
ALTER TABLE systems DROP COLUMN other_effects;
ALTER TABLE systems DROP COLUMN development_cost_avoided;
