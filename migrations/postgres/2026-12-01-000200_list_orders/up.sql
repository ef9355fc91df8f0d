-- The staff list of one state, newest first (`?state=received`), read in index
-- order and stopped at the page instead of sorting every row of the state.
CREATE INDEX consultations_state_created ON consultations(state, created_at, id);
