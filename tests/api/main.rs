//! Integration tests: the real server over HTTP, on SQLite and on PostgreSQL.
//! One test binary keeps link time low on two cores.

mod attachments;
mod attack_csrf;
mod attack_input;
mod attack_matrix;
mod attack_matrix_effects;
mod attack_xss;
mod auth;
mod cli;
mod concurrency;
mod contract;
mod dashboard;
mod directory;
mod effects;
mod faq;
mod faults;
mod fuzz;
mod generate;
mod helpers;
mod inquiries;
mod inquiry_matrix;
mod ledger;
mod lifecycle;
mod meta;
mod notifications;
mod outages;
mod pages;
mod postgres;
mod rules;
mod scaleout;
mod search;
mod security;
mod session;
mod smtp;
mod validation;
mod visibility;
