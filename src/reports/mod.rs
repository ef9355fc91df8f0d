//! Reports for managers: the dashboard's aggregates, the ledger's effects, their
//! charts (SVG drawn on the server) and exports of tables to CSV and XLSX.

pub mod annual;
pub mod charts;
pub mod dashboard;
pub mod dashboard_tables;
pub mod export;
pub mod helpdesk;
pub mod ledger;
