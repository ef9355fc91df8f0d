//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL.
//! One test binary keeps link time low on two cores.

mod helpers;
mod lifecycle;
mod postgres;
mod validation;
mod visibility;
