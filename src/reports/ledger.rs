//! The ledger's effects (DESIGN.md "Dashboards and reports"): hours and cost saved,
//! systems by phase, the in-house rate, hours as full-time staff and progress toward
//! the annual target, with breakdowns per division, platform and fiscal year; the
//! bar chart of the effects page; and the ledger export as localised cells for the
//! CSV/XLSX writer of `reports::export`.
//!
//! Savings count only systems in production: a trial saves nothing yet and a
//! retired system no longer does. They count only entries the DX office has
//! confirmed; what unconfirmed production entries claim is shown apart. A fiscal
//! year is the one a system entered production in.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::systems::System;
use crate::domain::fiscal::fiscal_year;
use crate::domain::ledger::{missing_fields, review_overdue, BuiltBy, Phase};
use crate::i18n::{t, Locale};
use crate::reports::export::{Cell, Row};

/// How the effects are expressed.
#[derive(Debug, Clone, Copy)]
pub struct EffectsSettings {
    pub hours_per_person_year: i64,
    pub annual_target_hours: i64,
    pub timezone: Tz,
}

/// Systems and savings of one division, platform or fiscal year.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Breakdown {
    /// A department id, a platform, or a fiscal year.
    pub key: String,
    /// Systems in the group, in any phase.
    pub systems: i64,
    pub in_production: i64,
    pub hours_saved: i64,
    /// Yen a year.
    pub cost_saved: i64,
}

/// What production entries not yet confirmed by the DX office claim; not in the totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Unconfirmed {
    pub systems: i64,
    pub hours_saved: i64,
    /// Yen a year.
    pub cost_saved: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PhaseCount {
    pub phase: String,
    pub systems: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Effects {
    pub systems: i64,
    pub by_phase: Vec<PhaseCount>,
    /// Systems in operation (confirmed, in production): the in-house rate's
    /// denominator, as the city counts it (trials and retired systems are not).
    pub in_operation: i64,
    /// Of those, built by the divisions themselves.
    pub in_house: i64,
    /// `in_house` of `in_operation`, in percent to one decimal (281 of 307 = 91.5).
    pub in_house_rate: f64,
    /// Working hours a year saved by the systems in production.
    pub hours_saved: i64,
    /// Yen a year saved by the systems in production.
    pub cost_saved: i64,
    /// `hours_saved` as full-time staff, to one decimal.
    pub full_time_staff: f64,
    pub hours_per_person_year: i64,
    pub target_hours: i64,
    /// `hours_saved` of `target_hours`, in percent to one decimal.
    pub target_progress: f64,
    pub by_division: Vec<Breakdown>,
    pub by_platform: Vec<Breakdown>,
    pub by_fiscal_year: Vec<Breakdown>,
    /// Production entries awaiting confirmation, counted apart.
    pub unconfirmed: Unconfirmed,
}

fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

/// The fiscal year a system entered production in, in the display zone.
pub fn production_year(system: &System, timezone: Tz) -> Option<i32> {
    system
        .production_at
        .map(|at| fiscal_year(at.and_utc().with_timezone(&timezone).date_naive()))
}

/// The effects of a set of ledger entries.
pub fn effects(systems: &[System], settings: EffectsSettings) -> Effects {
    let mut by_division: BTreeMap<i64, Breakdown> = BTreeMap::new();
    let mut by_platform: BTreeMap<String, Breakdown> = BTreeMap::new();
    let mut by_year: BTreeMap<i32, Breakdown> = BTreeMap::new();
    let mut total = Breakdown::default();
    let mut unconfirmed = Unconfirmed::default();
    let add = |b: &mut Breakdown, s: &System| {
        b.systems += 1;
        if s.phase == Phase::Production && s.verified {
            b.in_production += 1;
            b.hours_saved += s.hours_saved_per_year.unwrap_or(0);
            b.cost_saved += s.cost_saved_per_year.unwrap_or(0);
        }
    };
    for s in systems {
        if s.phase == Phase::Production && !s.verified {
            unconfirmed.systems += 1;
            unconfirmed.hours_saved += s.hours_saved_per_year.unwrap_or(0);
            unconfirmed.cost_saved += s.cost_saved_per_year.unwrap_or(0);
        }
        add(&mut total, s);
        add(by_division.entry(s.department_id).or_default(), s);
        add(
            by_platform
                .entry(s.platform.as_str().to_string())
                .or_default(),
            s,
        );
        if let Some(year) = production_year(s, settings.timezone) {
            add(by_year.entry(year).or_default(), s);
        }
    }
    let keyed = |map: BTreeMap<String, Breakdown>| {
        map.into_iter()
            .map(|(key, b)| Breakdown { key, ..b })
            .collect::<Vec<_>>()
    };
    let in_house = systems
        .iter()
        .filter(|s| s.phase == Phase::Production && s.verified && s.built_by == BuiltBy::InHouse)
        .count() as i64;
    Effects {
        systems: total.systems,
        by_phase: Phase::ALL
            .iter()
            .map(|p| PhaseCount {
                phase: p.as_str().into(),
                systems: systems.iter().filter(|s| s.phase == *p).count() as i64,
            })
            .collect(),
        in_operation: total.in_production,
        in_house,
        in_house_rate: percent(in_house, total.in_production),
        hours_saved: total.hours_saved,
        cost_saved: total.cost_saved,
        full_time_staff: (total.hours_saved as f64 * 10.0
            / settings.hours_per_person_year.max(1) as f64)
            .round()
            / 10.0,
        hours_per_person_year: settings.hours_per_person_year,
        target_hours: settings.annual_target_hours,
        target_progress: percent(total.hours_saved, settings.annual_target_hours),
        by_division: keyed(
            by_division
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
        by_platform: keyed(by_platform),
        by_fiscal_year: keyed(
            by_year
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
        unconfirmed,
    }
}

/// The columns of the ledger export, by field name (headers come from
/// `ledger.field.<name>`).
pub const EXPORT_FIELDS: &[&str] = &[
    "id",
    "name",
    "department",
    "platform",
    "phase",
    "built_by",
    "workflow_before",
    "workflow_after",
    "hours_saved_per_year",
    "cost_saved_per_year",
    "holds_personal_data",
    "manual_location",
    "owner",
    "review_on",
    "flags",
    "updated_at",
    "development_cost_avoided",
    "other_effects",
];

/// The ledger as a table for export: localised headers and one row of cells per
/// entry. The CSV (with BOM) and XLSX writers of `reports::export` turn it into a file.
pub fn export_table(
    locale: Locale,
    systems: &[System],
    departments: &HashMap<i64, String>,
    users: &HashMap<i64, String>,
    today: chrono::NaiveDate,
    time: &dyn Fn(NaiveDateTime) -> String,
) -> (Vec<String>, Vec<Row>) {
    let headers = EXPORT_FIELDS
        .iter()
        .map(|f| t(locale, &format!("ledger.field.{f}"), &[]))
        .collect();
    let label = |prefix: &str, value: &str| t(locale, &format!("ledger.{prefix}.{value}"), &[]);
    let rows = systems
        .iter()
        .map(|s| {
            let text = |v: &Option<String>| Cell::from(v.clone());
            vec![
                s.id.into(),
                s.name.clone().into(),
                departments.get(&s.department_id).cloned().into(),
                label("platform", s.platform.as_str()).into(),
                label("phase", s.phase.as_str()).into(),
                label("built_by", s.built_by.as_str()).into(),
                text(&s.workflow_before),
                text(&s.workflow_after),
                s.hours_saved_per_year.into(),
                s.cost_saved_per_year.into(),
                t(
                    locale,
                    if s.holds_personal_data {
                        "ledger.yes"
                    } else {
                        "ledger.no"
                    },
                    &[],
                )
                .into(),
                text(&s.manual_location),
                users.get(&s.owner_id).cloned().into(),
                s.review_on.map(|d| d.to_string()).into(),
                flags(locale, s, today).join(", ").into(),
                time(s.updated_at).into(),
                s.development_cost_avoided.into(),
                other_effects_text(&s.other_effects()).into(),
            ]
        })
        .collect();
    (headers, rows)
}

/// Other effects in one cell: `応援職員 100 → 15 人/日; …`.
fn other_effects_text(effects: &[crate::domain::savings::OtherEffect]) -> Option<String> {
    (!effects.is_empty()).then(|| {
        effects
            .iter()
            .map(|e| format!("{} {} → {} {}", e.what, e.before, e.after, e.unit))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// What a production entry lacks or that its review is overdue, in words.
pub fn flags(locale: Locale, system: &System, today: chrono::NaiveDate) -> Vec<String> {
    let fields = system.fields();
    let mut flags: Vec<String> = missing_fields(&fields)
        .into_iter()
        .map(|f| {
            t(
                locale,
                "ledger.flag.missing",
                &[("field", t(locale, &format!("ledger.field.{f}"), &[]))],
            )
        })
        .collect();
    if review_overdue(&fields, today) {
        flags.push(t(locale, "ledger.flag.review_overdue", &[]));
    }
    if system.phase == Phase::Production && !system.verified {
        flags.push(t(locale, "ledger.flag.unconfirmed", &[]));
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::Platform;

    fn system(
        id: i64,
        department: i64,
        platform: &str,
        phase: &str,
        built_by: &str,
        hours: i64,
    ) -> System {
        let at = chrono::NaiveDate::from_ymd_opt(2025, 5, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time");
        System {
            id,
            name: format!("system {id}"),
            department_id: department,
            platform: Platform::parse(platform).expect("platform"),
            phase: Phase::parse(phase).expect("phase"),
            built_by: BuiltBy::parse(built_by).expect("built by"),
            workflow_before: None,
            workflow_after: None,
            hours_saved_per_year: Some(hours),
            cost_saved_per_year: Some(hours * 2_000),
            holds_personal_data: false,
            manual_location: None,
            owner_id: 1,
            review_on: None,
            production_at: (phase == "production").then_some(at),
            reminded_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
            verified: true,
            development_cost_avoided: None,
            other_effects: "[]".into(),
        }
    }

    const SETTINGS: EffectsSettings = EffectsSettings {
        hours_per_person_year: 1920,
        annual_target_hours: 100_000,
        timezone: chrono_tz::Asia::Tokyo,
    };

    #[test]
    fn the_in_house_rate_of_281_of_307_is_91_5_percent() {
        let systems: Vec<System> = (0..307)
            .map(|i| {
                system(
                    i,
                    1,
                    "rpa",
                    "production",
                    if i < 281 { "in_house" } else { "vendor" },
                    0,
                )
            })
            // Trials and retired systems, in-house or not, are not in operation.
            .chain((400..450).map(|i| system(i, 1, "rpa", "trial", "in_house", 0)))
            .chain((500..520).map(|i| system(i, 1, "rpa", "retired", "vendor", 0)))
            .collect();
        let e = effects(&systems, SETTINGS);
        assert_eq!(
            (e.in_house, e.in_operation, e.in_house_rate),
            (281, 307, 91.5)
        );
    }

    #[test]
    fn only_production_systems_save_hours_and_staff_and_progress_follow() {
        let systems = vec![
            system(1, 10, "rpa", "production", "in_house", 3_840),
            system(2, 10, "low_code_app", "production", "vendor", 1_920),
            system(3, 20, "rpa", "trial", "in_house", 50_000),
            system(4, 20, "rpa", "retired", "in_house", 9_999),
        ];
        let e = effects(&systems, SETTINGS);
        assert_eq!(e.hours_saved, 5_760);
        assert_eq!(e.cost_saved, 11_520_000);
        assert_eq!(e.full_time_staff, 3.0);
        assert_eq!(e.target_progress, 5.8);
        assert_eq!(e.by_division[0].key, "10");
        assert_eq!(e.by_division[0].hours_saved, 5_760);
        assert_eq!(e.by_division[1].systems, 2);
        assert_eq!(e.by_division[1].hours_saved, 0);
        let rpa = e.by_platform.iter().find(|b| b.key == "rpa").expect("rpa");
        assert_eq!(
            (rpa.systems, rpa.in_production, rpa.hours_saved),
            (3, 1, 3_840)
        );
        assert_eq!(e.by_fiscal_year.len(), 1);
        assert_eq!(e.by_fiscal_year[0].key, "2025");
        let phases: Vec<i64> = e.by_phase.iter().map(|p| p.systems).collect();
        assert_eq!(phases, vec![1, 0, 2, 1]);
    }

    #[test]
    fn unconfirmed_entries_are_counted_apart_from_the_totals() {
        let mut claimed = system(2, 10, "rpa", "production", "in_house", 100_000);
        claimed.verified = false;
        let systems = vec![
            system(1, 10, "rpa", "production", "in_house", 3_840),
            claimed,
        ];
        let e = effects(&systems, SETTINGS);
        assert_eq!(e.hours_saved, 3_840);
        assert_eq!(e.by_division[0].in_production, 1);
        assert_eq!(
            e.unconfirmed,
            Unconfirmed {
                systems: 1,
                hours_saved: 100_000,
                cost_saved: 200_000_000,
            }
        );
    }

    #[test]
    fn the_export_has_localised_headers_and_one_row_of_cells_per_entry() {
        let mut s = system(7, 10, "rpa", "production", "vendor", 1_200);
        s.manual_location = Some("//fs/manual.pdf".into());
        let departments = HashMap::from([(10, "市民課".to_string())]);
        let users = HashMap::from([(1, "田中".to_string())]);
        let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
        let (headers, rows) = export_table(Locale::Ja, &[s], &departments, &users, today, &|t| {
            t.format("%Y-%m-%d").to_string()
        });
        assert_eq!(headers.len(), EXPORT_FIELDS.len());
        assert_eq!(headers[1], "システム名");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), headers.len());
        let text = |s: &str| Cell::Text(s.to_string());
        assert_eq!(
            &rows[0][..6],
            &[
                Cell::Number(7.0),
                text("system 7"),
                text("市民課"),
                text("RPA"),
                text("本番"),
                text("委託")
            ]
        );
        assert_eq!(rows[0][8], Cell::Number(1200.0));
        assert_eq!(
            rows[0][16],
            Cell::Empty,
            "no development cost avoided given"
        );
        assert_eq!(rows[0][17], Cell::Empty, "no other effects");
        assert_eq!(rows[0][12], text("田中"));
        assert!(
            matches!(&rows[0][14], Cell::Text(f) if f.contains("次回見直し日が未登録")),
            "{:?}",
            rows[0][14]
        );
        let (english, _) = export_table(Locale::En, &[], &departments, &users, today, &|_| {
            String::new()
        });
        assert_eq!(english[1], "System name");
    }
}
