//! Reports: dashboard aggregates, charts and the tables behind CSV/XLSX exports.

pub mod ledger;
