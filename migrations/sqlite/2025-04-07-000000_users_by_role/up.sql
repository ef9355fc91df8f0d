-- Mail goes to everyone of a role (the whole DX office at each filing, the
-- division's managers at each assignment): find them without reading all staff.
CREATE INDEX users_role ON users(role, department_id);
