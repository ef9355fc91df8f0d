//! The system ledger's rules (DESIGN.md "System ledger"): what an entry holds, how
//! its phase may move, what a production system must have so the next person in
//! the post can run it, and when a proposed name looks like an existing system.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::consultation::{wire_enum, TEXT_MAX_CHARS, TITLE_MAX_CHARS};
use super::role::Role;
use super::savings::{parse_other_effects, OtherEffect, OtherEffectInput};
use super::search::{grams, normalize};
use super::validation::FieldErrors;

wire_enum!(
    /// What a system is built with.
    Platform {
        LowCodeApp => "low_code_app",
        EApplication => "e_application",
        Rpa => "rpa",
        AiOcr => "ai_ocr",
        Other => "other",
    }
);

wire_enum!(
    /// Where a system stands in its life.
    Phase {
        Trial => "trial",
        Verification => "verification",
        Production => "production",
        Retired => "retired",
    }
);

wire_enum!(
    /// Who built it: the division itself, or a vendor.
    BuiltBy {
        InHouse => "in_house",
        Vendor => "vendor",
    }
);

impl Phase {
    /// Phases move forward one step at a time; any live system may be retired.
    pub fn may_move_to(self, to: Phase) -> bool {
        use Phase::*;
        self == to
            || matches!(
                (self, to),
                (Trial, Verification)
                    | (Verification, Production)
                    | (Trial | Verification | Production, Retired)
            )
    }
}

/// Who may register entries: everyone but managers, who only read. Requesters
/// register for their own division (checked against their scope).
pub fn may_register(role: Role) -> bool {
    role != Role::Manager
}

/// Who confirms entries, so they count in the effects: the DX office and admins.
pub fn may_verify(role: Role) -> bool {
    matches!(role, Role::DxOffice | Role::Admin)
}

/// Whether an entry is confirmed after an edit: a confirmer decides (what they
/// asked, else as it was); a change by anyone else to a confirmed entry needs
/// confirming again. `None`: the caller asked for a confirmation they may not give.
pub fn confirmed_after_edit(
    role: Role,
    before: &SystemFields,
    after: &SystemFields,
    asked: Option<bool>,
) -> Option<bool> {
    if may_verify(role) {
        Some(asked.unwrap_or(before.verified))
    } else if asked.is_some() {
        None
    } else {
        Some(before.verified && after == before)
    }
}

/// Who may edit an entry they can see (DESIGN.md): the DX office, helpdesk and
/// admins, and requesters, whose scope is their own division's entries; managers
/// only read.
pub fn may_edit(role: Role) -> bool {
    role.is_staff() || role == Role::Requester
}

/// Where the operating manual is: a path or URL, not the manual itself.
pub const MANUAL_MAX_CHARS: usize = 500;

/// An entry's fields, parsed and trusted from here on.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemFields {
    pub name: String,
    /// The owning division; a requester's own by default.
    pub department_id: Option<i64>,
    pub platform: Platform,
    pub phase: Phase,
    pub built_by: BuiltBy,
    pub workflow_before: Option<String>,
    pub workflow_after: Option<String>,
    pub hours_saved_per_year: Option<i64>,
    /// Yen a year.
    pub cost_saved_per_year: Option<i64>,
    pub holds_personal_data: bool,
    pub manual_location: Option<String>,
    /// The person who answers for it; the registering user by default.
    pub owner_id: Option<i64>,
    pub review_on: Option<NaiveDate>,
    /// Confirmed by the DX office (see [`may_verify`]).
    pub verified: bool,
    /// Yen, once: what a vendor would have charged to build it (their estimate).
    pub development_cost_avoided: Option<i64>,
    /// Effects that are not hours.
    pub other_effects: Vec<OtherEffect>,
}

/// A field that may be absent (leave it), `null` (clear it) or a value.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A ledger entry as it arrives, for registering (`POST`) and editing (`PATCH`,
/// with `version`; absent fields stay as they are, `null` clears).
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct SystemInput {
    /// The version the caller saw (edits only).
    pub version: Option<i32>,
    /// Required to register.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub department_id: Option<i64>,
    /// Required to register.
    #[schema(value_type = Option<Platform>)]
    pub platform: Option<String>,
    /// `trial` when absent.
    #[schema(value_type = Option<Phase>)]
    pub phase: Option<String>,
    /// `in_house` when absent.
    #[schema(value_type = Option<BuiltBy>)]
    pub built_by: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub workflow_before: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub workflow_after: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100000)]
    pub hours_saved_per_year: Option<Option<i64>>,
    /// Yen a year.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10000000000_i64)]
    pub cost_saved_per_year: Option<Option<i64>>,
    pub holds_personal_data: Option<bool>,
    /// Where the operating manual is (required before `production`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub manual_location: Option<Option<String>>,
    pub owner_id: Option<i64>,
    /// `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Date)]
    pub review_on: Option<Option<String>>,
    /// The owner by e-mail address, instead of `owner_id` (the pages ask so).
    pub owner_email: Option<String>,
    /// Edits only: the DX office confirms the entry (`true`) or takes the
    /// confirmation back; only confirmed entries count in the effects.
    pub verified: Option<bool>,
    /// Yen, once: a vendor's estimate of building it, avoided by building in-house.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10000000000_i64)]
    pub development_cost_avoided: Option<Option<i64>>,
    /// Effects that are not hours; an edit replaces the whole list.
    #[schema(max_items = 20)]
    pub other_effects: Option<Vec<OtherEffectInput>>,
}

fn choice<T: Copy>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    let parsed = parse(value);
    if parsed.is_none() {
        errors.add(field, "validation.choice");
    }
    parsed
}

/// The most working hours one system may save a year (DESIGN.md: 0–100,000).
pub const HOURS_MAX: i64 = 100_000;
/// The most yen one system may save a year.
pub const COST_MAX: i64 = 10_000_000_000;

fn amount(errors: &mut FieldErrors, field: &str, value: Option<i64>, max: i64) -> Option<i64> {
    match value {
        Some(n) if !(0..=max).contains(&n) => {
            errors.add(field, "validation.amount");
            None
        }
        other => other,
    }
}

fn date(errors: &mut FieldErrors, field: &str, value: Option<&str>) -> Option<NaiveDate> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
    if parsed.is_none() {
        errors.add(field, "validation.date");
    }
    parsed
}

impl SystemInput {
    /// A new entry's fields; every problem is reported at once.
    pub fn parse_new(&self) -> Result<SystemFields, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.required_text("name", self.name.as_deref(), TITLE_MAX_CHARS);
        let platform = choice(
            &mut errors,
            "platform",
            self.platform.as_deref(),
            Platform::parse,
        );
        if self.platform.as_deref().is_none_or(|p| p.trim().is_empty()) {
            errors.add("platform", "validation.required");
        }
        let flat = |v: &Option<Option<String>>| v.clone().flatten();
        let fields = SystemFields {
            name: name.unwrap_or_default(),
            department_id: self.department_id,
            platform: platform.unwrap_or(Platform::Other),
            phase: choice(&mut errors, "phase", self.phase.as_deref(), Phase::parse)
                .unwrap_or(Phase::Trial),
            built_by: choice(
                &mut errors,
                "built_by",
                self.built_by.as_deref(),
                BuiltBy::parse,
            )
            .unwrap_or(BuiltBy::InHouse),
            workflow_before: errors.optional_text(
                "workflow_before",
                flat(&self.workflow_before).as_deref(),
                TEXT_MAX_CHARS,
            ),
            workflow_after: errors.optional_text(
                "workflow_after",
                flat(&self.workflow_after).as_deref(),
                TEXT_MAX_CHARS,
            ),
            hours_saved_per_year: amount(
                &mut errors,
                "hours_saved_per_year",
                self.hours_saved_per_year.flatten(),
                HOURS_MAX,
            ),
            cost_saved_per_year: amount(
                &mut errors,
                "cost_saved_per_year",
                self.cost_saved_per_year.flatten(),
                COST_MAX,
            ),
            holds_personal_data: self.holds_personal_data.unwrap_or(false),
            manual_location: errors.optional_text(
                "manual_location",
                flat(&self.manual_location).as_deref(),
                MANUAL_MAX_CHARS,
            ),
            owner_id: self.owner_id,
            review_on: date(&mut errors, "review_on", flat(&self.review_on).as_deref()),
            // Confirmation is the DX office's, decided by the use case.
            verified: false,
            development_cost_avoided: amount(
                &mut errors,
                "development_cost_avoided",
                self.development_cost_avoided.flatten(),
                COST_MAX,
            ),
            other_effects: parse_other_effects(
                &mut errors,
                self.other_effects.as_deref().unwrap_or_default(),
            ),
        };
        if fields.phase == Phase::Retired {
            errors.add("phase", "validation.phase_move");
        }
        check_phase_needs(&fields, &mut errors);
        errors.into_result()?;
        Ok(fields)
    }

    /// An edit applied to the current fields: the version the caller saw and the
    /// fields after the edit. The phase may only move as [`Phase::may_move_to`] says.
    pub fn parse_edit(&self, current: &SystemFields) -> Result<(i32, SystemFields), FieldErrors> {
        let mut errors = FieldErrors::new();
        let version = self.version;
        if version.is_none() {
            errors.add("version", "validation.required");
        }
        let mut next = current.clone();
        if self.name.is_some() {
            next.name = errors
                .required_text("name", self.name.as_deref(), TITLE_MAX_CHARS)
                .unwrap_or_default();
        }
        if let Some(id) = self.department_id {
            next.department_id = Some(id);
        }
        if let Some(p) = choice(
            &mut errors,
            "platform",
            self.platform.as_deref(),
            Platform::parse,
        ) {
            next.platform = p;
        }
        if let Some(p) = choice(&mut errors, "phase", self.phase.as_deref(), Phase::parse) {
            if !current.phase.may_move_to(p) {
                errors.add("phase", "validation.phase_move");
            }
            next.phase = p;
        }
        if let Some(b) = choice(
            &mut errors,
            "built_by",
            self.built_by.as_deref(),
            BuiltBy::parse,
        ) {
            next.built_by = b;
        }
        let mut text =
            |field: &str, value: &Option<Option<String>>, max, slot: &mut Option<String>| {
                if let Some(v) = value {
                    *slot = errors.optional_text(field, v.as_deref(), max);
                }
            };
        text(
            "workflow_before",
            &self.workflow_before,
            TEXT_MAX_CHARS,
            &mut next.workflow_before,
        );
        text(
            "workflow_after",
            &self.workflow_after,
            TEXT_MAX_CHARS,
            &mut next.workflow_after,
        );
        text(
            "manual_location",
            &self.manual_location,
            MANUAL_MAX_CHARS,
            &mut next.manual_location,
        );
        if let Some(v) = self.hours_saved_per_year {
            next.hours_saved_per_year = amount(&mut errors, "hours_saved_per_year", v, HOURS_MAX);
        }
        if let Some(v) = self.cost_saved_per_year {
            next.cost_saved_per_year = amount(&mut errors, "cost_saved_per_year", v, COST_MAX);
        }
        if let Some(v) = self.development_cost_avoided {
            next.development_cost_avoided =
                amount(&mut errors, "development_cost_avoided", v, COST_MAX);
        }
        if let Some(list) = &self.other_effects {
            next.other_effects = parse_other_effects(&mut errors, list);
        }
        if let Some(v) = self.holds_personal_data {
            next.holds_personal_data = v;
        }
        if let Some(id) = self.owner_id {
            next.owner_id = Some(id);
        }
        if let Some(v) = &self.review_on {
            next.review_on = date(&mut errors, "review_on", v.as_deref());
        }
        check_phase_needs(&next, &mut errors);
        errors.into_result()?;
        Ok((version.unwrap_or_default(), next))
    }
}

/// A production system must say where its manual is: the next person in the post
/// has to be able to run it.
fn check_phase_needs(fields: &SystemFields, errors: &mut FieldErrors) {
    if fields.phase == Phase::Production && fields.manual_location.is_none() {
        errors.add("manual_location", "validation.manual_before_production");
    }
}

/// The fields a production system should have filled in, by wire name, that it
/// lacks (the manual cannot be missing: production requires it).
pub fn missing_fields(fields: &SystemFields) -> Vec<&'static str> {
    if fields.phase != Phase::Production {
        return vec![];
    }
    let mut missing = vec![];
    if fields.workflow_before.is_none() {
        missing.push("workflow_before");
    }
    if fields.workflow_after.is_none() {
        missing.push("workflow_after");
    }
    if fields.hours_saved_per_year.is_none() {
        missing.push("hours_saved_per_year");
    }
    if fields.manual_location.is_none() {
        missing.push("manual_location");
    }
    if fields.review_on.is_none() {
        missing.push("review_on");
    }
    missing
}

/// Whether a production system's review date has passed.
pub fn review_overdue(fields: &SystemFields, today: NaiveDate) -> bool {
    fields.phase == Phase::Production && fields.review_on.is_some_and(|d| d < today)
}

/// Words nearly every system name ends in; they say nothing about what it does,
/// so `申請受付管理アプリ` and `申請受付管理システム` are the same system.
const GENERIC_WORDS: &[&str] = &[
    "システム",
    "アプリケーション",
    "アプリ",
    "ツール",
    "ロボット",
    "サービス",
    "system",
    "app",
    "tool",
];

/// A name's character bigrams (NFKC, lower case) without the generic words.
fn name_grams(name: &str) -> HashSet<String> {
    let normalized = normalize(name);
    let mut stripped = normalized.clone();
    for word in GENERIC_WORDS {
        stripped = stripped.replace(word, " ");
    }
    let text = if stripped.trim().is_empty() {
        normalized
    } else {
        stripped
    };
    text_grams(&text)
}

/// Dice similarity of two sets of bigrams, 0.0 to 1.0.
fn dice(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f64 / (a.len() + b.len()) as f64
}

/// From this score up, an existing system is shown as possibly the same.
pub const SIMILAR_FROM: f64 = 0.5;

/// A proposed system, cut into grams once to be compared with every entry.
pub struct Proposed {
    name: HashSet<String>,
    description: Option<HashSet<String>>,
}

fn text_grams(text: &str) -> HashSet<String> {
    grams(text)
        .split(' ')
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

impl Proposed {
    pub fn new(name: &str, description: Option<&str>) -> Proposed {
        Proposed {
            name: name_grams(name),
            description: description.map(text_grams),
        }
    }

    /// How alike an existing entry is: the better of the names' similarity and,
    /// when both have one, the descriptions'.
    pub fn similarity(&self, name: &str, description: Option<&str>) -> f64 {
        let names = dice(&self.name, &name_grams(name));
        let descriptions = match (&self.description, description) {
            (Some(mine), Some(theirs)) => dice(mine, &text_grams(theirs)),
            _ => 0.0,
        };
        names.max(descriptions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> SystemInput {
        serde_json::from_value(json).expect("input")
    }

    #[test]
    fn phases_move_forward_one_step_and_any_live_system_may_retire() {
        use Phase::*;
        assert!(Trial.may_move_to(Verification));
        assert!(Verification.may_move_to(Production));
        assert!(Production.may_move_to(Retired));
        assert!(Trial.may_move_to(Retired));
        assert!(!Trial.may_move_to(Production));
        assert!(!Production.may_move_to(Trial));
        assert!(!Retired.may_move_to(Production));
    }

    #[test]
    fn production_needs_the_manual() {
        let fields = input(serde_json::json!({"name": "議事録作成", "platform": "rpa"}))
            .parse_new()
            .expect("valid");
        assert_eq!(fields.phase, Phase::Trial);
        let fields = input(serde_json::json!({"version": 1, "phase": "verification"}))
            .parse_edit(&fields)
            .expect("valid")
            .1;
        let refused = input(serde_json::json!({"version": 2, "phase": "production"}))
            .parse_edit(&fields)
            .expect_err("no manual");
        assert!(refused.contains("manual_location"));
        let (_, done) = input(serde_json::json!({"version": 2, "phase": "production", "manual_location": "//share/manual.pdf"}))
            .parse_edit(&fields)
            .expect("valid");
        assert_eq!(done.phase, Phase::Production);
        assert!(
            input(serde_json::json!({"version": 3, "manual_location": null}))
                .parse_edit(&done)
                .is_err()
        );
    }

    #[test]
    fn absent_fields_stay_and_null_clears() {
        let fields =
            input(serde_json::json!({"name": "a", "platform": "rpa", "hours_saved_per_year": 10}))
                .parse_new()
                .expect("valid");
        let (_, same) = input(serde_json::json!({"version": 1}))
            .parse_edit(&fields)
            .expect("valid");
        assert_eq!(same.hours_saved_per_year, Some(10));
        let (_, cleared) = input(serde_json::json!({"version": 1, "hours_saved_per_year": null}))
            .parse_edit(&fields)
            .expect("valid");
        assert_eq!(cleared.hours_saved_per_year, None);
    }

    #[test]
    fn a_renamed_app_is_similar_and_unrelated_names_are_not() {
        let score = |a: &str, b: &str| Proposed::new(a, None).similarity(b, None);
        assert!(score("申請受付管理システム", "申請受付管理アプリ") >= SIMILAR_FROM);
        assert!(score("ｼﾝｾｲ受付管理", "シンセイ受付管理アプリ") >= SIMILAR_FROM);
        assert!(score("申請受付管理システム", "文書管理システム") < SIMILAR_FROM);
        assert!(score("申請受付管理システム", "議事録作成RPA") < SIMILAR_FROM);
        assert!(score("申請受付管理システム", "庁内会議室予約アプリ") < SIMILAR_FROM);
    }

    #[test]
    fn production_systems_lacking_fields_are_flagged() {
        let mut fields = input(serde_json::json!({"name": "a", "platform": "rpa", "phase": "production", "manual_location": "x"}))
            .parse_new()
            .expect("valid");
        assert_eq!(
            missing_fields(&fields),
            vec![
                "workflow_before",
                "workflow_after",
                "hours_saved_per_year",
                "review_on"
            ]
        );
        let today = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
        fields.review_on = NaiveDate::from_ymd_opt(2025, 5, 31);
        assert!(review_overdue(&fields, today));
        fields.phase = Phase::Verification;
        assert!(missing_fields(&fields).is_empty());
        assert!(!review_overdue(&fields, today));
    }
}
