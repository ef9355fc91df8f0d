//! digicon: the consultation desk of a city's digital-transformation office.
//! `main.rs` only parses the command line; everything else lives here so tests
//! build the same application the binary runs.

pub mod app;
pub mod cli;
pub mod db;
pub mod demo;
pub mod demo_helpdesk;
pub mod domain;
pub mod generate;
pub mod i18n;
pub mod notify;
pub mod private_files;
pub mod reports;
pub mod settings;
pub mod startup;
pub mod storage;
pub mod web;
