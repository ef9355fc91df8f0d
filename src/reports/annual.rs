//! A fiscal year's effects as the city publishes them (issue 20): hours and money
//! saved pro rata by the months each system was in production (see
//! `domain::savings`), the in-house rate over the systems in operation at the
//! year's end, the one-off development cost avoided in the year a system went
//! live, hours by bureau, the top systems and the effects that are not hours. A
//! closed year's figures are stored as they were (JSON of [`YearFigures`]), so
//! they carry the names of the time.
//!
//! Only entries the DX office confirmed count; what unconfirmed ones would add
//! is shown apart.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::systems::System;
use crate::domain::ledger::BuiltBy;
use crate::domain::savings::{
    first_production_year, in_operation_at_end, months_in_year, percent, OtherEffect, PhaseChange,
};
use crate::i18n::{t, Locale};
use crate::reports::export::{Cell, Row};

/// Systems shown in a year's top list.
pub const TOP_SYSTEMS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BureauFigures {
    pub bureau_id: i64,
    pub bureau: String,
    /// Systems counted in the year (in production at least one month).
    pub systems: i64,
    pub hours_saved: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SystemFigures {
    pub system_id: i64,
    pub name: String,
    pub department: String,
    /// Months of the year it was in production (0–12).
    pub months: i64,
    pub hours_saved: i64,
    /// Yen.
    pub cost_saved: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OtherEffectLine {
    pub system_id: i64,
    pub system: String,
    #[serde(flatten)]
    pub effect: OtherEffect,
}

/// One fiscal year's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct YearFigures {
    pub fiscal_year: i32,
    /// Systems in operation (production) at the year's end: the in-house rate's
    /// denominator.
    pub in_operation: i64,
    /// Of those, built by the divisions themselves.
    pub in_house: i64,
    /// `in_house` of `in_operation`, percent to one decimal.
    pub in_house_rate: f64,
    /// Systems in production at least one month of the year.
    pub counted_systems: i64,
    /// Working hours saved in the year, pro rata by month.
    pub hours_saved: i64,
    /// `hours_saved` as full-time staff, to one decimal.
    pub full_time_staff: f64,
    pub hours_per_person_year: i64,
    /// Yen saved in the year, pro rata by month.
    pub cost_saved: i64,
    /// Yen, once, of systems that first went live in the year.
    pub development_cost_avoided: i64,
    /// 効果額: `cost_saved` + `development_cost_avoided`.
    pub effect_amount: i64,
    pub by_bureau: Vec<BureauFigures>,
    /// The systems that saved the most hours, at most [`TOP_SYSTEMS`].
    pub top_systems: Vec<SystemFigures>,
    pub other_effects: Vec<OtherEffectLine>,
    /// Production entries not yet confirmed, and the hours they claim; not counted.
    pub unconfirmed_systems: i64,
    pub unconfirmed_hours: i64,
}

/// Where a division belongs: its bureau (the top of its tree) and names.
pub struct Organisation {
    /// Department id → (bureau id, bureau name).
    pub bureau_of: HashMap<i64, (i64, String)>,
    pub department_names: HashMap<i64, String>,
}

/// `annual × months / 12`, to the nearest unit.
fn pro_rata(annual: i64, months: i64) -> f64 {
    annual as f64 * months as f64 / 12.0
}

/// The figures of fiscal year `year` from the entries and their phase history
/// (local days, oldest first, per system id).
pub fn year_figures(
    year: i32,
    systems: &[System],
    history: &HashMap<i64, Vec<PhaseChange>>,
    organisation: &Organisation,
    hours_per_person_year: i64,
) -> YearFigures {
    let mut figures = YearFigures {
        fiscal_year: year,
        in_operation: 0,
        in_house: 0,
        in_house_rate: 0.0,
        counted_systems: 0,
        hours_saved: 0,
        full_time_staff: 0.0,
        hours_per_person_year,
        cost_saved: 0,
        development_cost_avoided: 0,
        effect_amount: 0,
        by_bureau: vec![],
        top_systems: vec![],
        other_effects: vec![],
        unconfirmed_systems: 0,
        unconfirmed_hours: 0,
    };
    let (mut hours, mut cost) = (0.0, 0.0);
    let mut bureaus: BTreeMap<i64, (String, i64, f64)> = BTreeMap::new();
    let mut ranked: Vec<(f64, SystemFigures)> = vec![];
    for s in systems {
        let periods = crate::domain::savings::production_months(
            history.get(&s.id).map(Vec::as_slice).unwrap_or_default(),
        );
        let months = months_in_year(&periods, year);
        if months == 0 {
            continue;
        }
        let annual_hours = s.hours_saved_per_year.unwrap_or(0);
        if !s.verified {
            figures.unconfirmed_systems += 1;
            figures.unconfirmed_hours += pro_rata(annual_hours, months).round() as i64;
            continue;
        }
        let (h, c) = (
            pro_rata(annual_hours, months),
            pro_rata(s.cost_saved_per_year.unwrap_or(0), months),
        );
        hours += h;
        cost += c;
        figures.counted_systems += 1;
        if in_operation_at_end(&periods, year) {
            figures.in_operation += 1;
            if s.built_by == BuiltBy::InHouse {
                figures.in_house += 1;
            }
        }
        if first_production_year(&periods) == Some(year) {
            figures.development_cost_avoided += s.development_cost_avoided.unwrap_or(0);
        }
        let (bureau_id, bureau) = organisation
            .bureau_of
            .get(&s.department_id)
            .cloned()
            .unwrap_or((s.department_id, String::new()));
        let entry = bureaus.entry(bureau_id).or_insert((bureau, 0, 0.0));
        entry.1 += 1;
        entry.2 += h;
        ranked.push((
            h,
            SystemFigures {
                system_id: s.id,
                name: s.name.clone(),
                department: organisation
                    .department_names
                    .get(&s.department_id)
                    .cloned()
                    .unwrap_or_default(),
                months,
                hours_saved: h.round() as i64,
                cost_saved: c.round() as i64,
            },
        ));
        figures
            .other_effects
            .extend(s.other_effects().into_iter().map(|effect| OtherEffectLine {
                system_id: s.id,
                system: s.name.clone(),
                effect,
            }));
    }
    figures.hours_saved = hours.round() as i64;
    figures.cost_saved = cost.round() as i64;
    figures.effect_amount = figures.cost_saved + figures.development_cost_avoided;
    figures.in_house_rate = percent(figures.in_house, figures.in_operation);
    figures.full_time_staff = (hours * 10.0 / hours_per_person_year.max(1) as f64).round() / 10.0;
    let mut by_bureau: Vec<BureauFigures> = bureaus
        .into_iter()
        .map(|(bureau_id, (bureau, systems, h))| BureauFigures {
            bureau_id,
            bureau,
            systems,
            hours_saved: h.round() as i64,
        })
        .collect();
    by_bureau.sort_by(|a, b| {
        b.hours_saved
            .cmp(&a.hours_saved)
            .then(a.bureau_id.cmp(&b.bureau_id))
    });
    figures.by_bureau = by_bureau;
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.system_id.cmp(&b.1.system_id)));
    figures.top_systems = ranked
        .into_iter()
        .take(TOP_SYSTEMS)
        .map(|(_, s)| s)
        .collect();
    figures
}

/// The tables of the report, each as localised headers and rows of cells, for the
/// CSV and XLSX exports: `summary`, `years`, `bureaus`, `systems`, `other_effects`.
pub const TABLES: &[&str] = &["summary", "years", "bureaus", "systems", "other_effects"];

/// One year's line in the years table: its figures, closed or not, and the
/// cumulative amount up to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct YearLine {
    pub fiscal_year: i32,
    pub hours_saved: i64,
    pub effect_amount: i64,
    /// 効果額 from the start year up to this one.
    pub cumulative_amount: i64,
    pub in_operation: i64,
    pub in_house_rate: f64,
    pub closed: bool,
}

/// A table of the report as headers and rows (`None`: no such table).
pub fn table(
    locale: Locale,
    name: &str,
    figures: &YearFigures,
    years: &[YearLine],
    summary: &[(String, Cell)],
) -> Option<(Vec<String>, Vec<Row>)> {
    let h = |keys: &[&str]| -> Vec<String> {
        keys.iter()
            .map(|k| t(locale, &format!("report.column.{k}"), &[]))
            .collect()
    };
    let year = |y: i32| Cell::Text(crate::domain::fiscal::era_label(y));
    Some(match name {
        "summary" => (
            h(&["item", "value"]),
            summary
                .iter()
                .map(|(label, value)| vec![Cell::Text(label.clone()), value.clone()])
                .collect(),
        ),
        "years" => (
            h(&[
                "fiscal_year",
                "fiscal_year_era",
                "hours_saved",
                "effect_amount",
                "cumulative_amount",
                "in_operation",
                "in_house_rate",
                "closed",
            ]),
            years
                .iter()
                .map(|l| {
                    vec![
                        i64::from(l.fiscal_year).into(),
                        year(l.fiscal_year),
                        l.hours_saved.into(),
                        l.effect_amount.into(),
                        l.cumulative_amount.into(),
                        l.in_operation.into(),
                        Cell::Number(l.in_house_rate),
                        Cell::Text(t(
                            locale,
                            if l.closed {
                                "report.closed"
                            } else {
                                "report.open"
                            },
                            &[],
                        )),
                    ]
                })
                .collect(),
        ),
        "bureaus" => (
            h(&["bureau", "systems", "hours_saved"]),
            figures
                .by_bureau
                .iter()
                .map(|b| {
                    vec![
                        b.bureau.clone().into(),
                        b.systems.into(),
                        b.hours_saved.into(),
                    ]
                })
                .collect(),
        ),
        "systems" => (
            h(&[
                "system",
                "department",
                "months",
                "hours_saved",
                "cost_saved",
            ]),
            figures
                .top_systems
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone().into(),
                        s.department.clone().into(),
                        s.months.into(),
                        s.hours_saved.into(),
                        s.cost_saved.into(),
                    ]
                })
                .collect(),
        ),
        "other_effects" => (
            h(&["system", "what", "before", "after", "unit", "note"]),
            figures
                .other_effects
                .iter()
                .map(|l| {
                    vec![
                        l.system.clone().into(),
                        l.effect.what.clone().into(),
                        Cell::Number(l.effect.before),
                        Cell::Number(l.effect.after),
                        l.effect.unit.clone().into(),
                        l.effect.note.clone().into(),
                    ]
                })
                .collect(),
        ),
        _ => return None,
    })
}

/// The report's key figures as (label, value) lines: the summary table.
pub fn summary(
    locale: Locale,
    figures: &YearFigures,
    cumulative_amount: i64,
    start_fiscal_year: i32,
    hours: &crate::domain::savings::Progress,
    amount: Option<&crate::domain::savings::Progress>,
) -> Vec<(String, Cell)> {
    let l = |key: &str| t(locale, &format!("report.summary.{key}"), &[]);
    let mut lines = vec![
        (
            l("fiscal_year"),
            Cell::Text(crate::domain::fiscal::era_label(figures.fiscal_year)),
        ),
        (l("in_operation"), figures.in_operation.into()),
        (l("in_house"), figures.in_house.into()),
        (l("in_house_rate"), Cell::Number(figures.in_house_rate)),
        (l("hours_saved"), figures.hours_saved.into()),
        (l("full_time_staff"), Cell::Number(figures.full_time_staff)),
        (l("cost_saved"), figures.cost_saved.into()),
        (
            l("development_cost_avoided"),
            figures.development_cost_avoided.into(),
        ),
        (l("effect_amount"), figures.effect_amount.into()),
        (
            t(
                locale,
                "report.summary.cumulative_amount",
                &[("start", crate::domain::fiscal::era_label(start_fiscal_year))],
            ),
            cumulative_amount.into(),
        ),
        (l("target_hours"), hours.target.into()),
        (l("hours_progress"), Cell::Number(hours.percent)),
        (l("hours_needed_per_year"), hours.needed_per_year.into()),
    ];
    if let Some(a) = amount {
        lines.push((l("target_amount"), a.target.into()));
        lines.push((l("amount_progress"), Cell::Number(a.percent)));
        lines.push((l("amount_needed_per_year"), a.needed_per_year.into()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::{Phase, Platform};
    use chrono::NaiveDate;

    fn system(id: i64, hours: i64, built_by: BuiltBy) -> System {
        let at = NaiveDate::from_ymd_opt(2024, 4, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time");
        System {
            id,
            name: format!("system {id}"),
            department_id: 3,
            platform: Platform::Rpa,
            phase: Phase::Production,
            built_by,
            workflow_before: None,
            workflow_after: None,
            hours_saved_per_year: Some(hours),
            cost_saved_per_year: Some(hours * 1_000),
            holds_personal_data: false,
            manual_location: None,
            owner_id: 1,
            review_on: None,
            production_at: Some(at),
            reminded_at: None,
            version: 1,
            created_at: at,
            updated_at: at,
            verified: true,
            development_cost_avoided: Some(5_000_000),
            other_effects: "[]".into(),
        }
    }

    fn went_live(y: i32, m: u32) -> Vec<PhaseChange> {
        vec![PhaseChange {
            on: NaiveDate::from_ymd_opt(y, m, 10).expect("date"),
            to: Phase::Production,
        }]
    }

    #[test]
    fn a_year_counts_hours_pro_rata_and_the_development_cost_once() {
        let systems = vec![
            system(1, 1_200, BuiltBy::InHouse),
            system(2, 2_400, BuiltBy::Vendor),
        ];
        let history = HashMap::from([(1, went_live(2024, 4)), (2, went_live(2025, 1))]);
        let organisation = Organisation {
            bureau_of: HashMap::from([(3, (1, "市民局".to_string()))]),
            department_names: HashMap::from([(3, "市民課".to_string())]),
        };
        let f = year_figures(2024, &systems, &history, &organisation, 1920);
        // 1,200 × 12/12 + 2,400 × 3/12 (January to March).
        assert_eq!(f.hours_saved, 1_800);
        assert_eq!((f.in_operation, f.in_house, f.in_house_rate), (2, 1, 50.0));
        assert_eq!(f.development_cost_avoided, 10_000_000);
        assert_eq!(f.effect_amount, 1_800_000 + 10_000_000);
        assert_eq!(f.by_bureau[0].bureau, "市民局");
        assert_eq!(f.top_systems[0].system_id, 1);
        let next = year_figures(2025, &systems, &history, &organisation, 1920);
        assert_eq!(next.hours_saved, 3_600);
        assert_eq!(
            next.development_cost_avoided, 0,
            "counted once, when it went live"
        );
    }
}
