//! The rows of "other effects" (what, before, after, unit, note) on the ledger's
//! form: numbered fields `effect_{i}_what` … in, the API's list out, and back.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::domain::savings::{OtherEffect, OtherEffectInput, OTHER_EFFECTS_MAX};

/// Blank rows the form offers below the filled ones.
const BLANK_ROWS: usize = 2;

/// The form's rows as the API's list; wholly blank rows are left out. `None` when
/// the form did not carry the rows (then the list stays as it is). A figure that is
/// not a number becomes one the rules refuse, so the user sees why.
pub fn from_form(form: &HashMap<String, String>) -> Option<Vec<OtherEffectInput>> {
    if !form.contains_key("other_effects_rows") {
        return None;
    }
    let field = |i: usize, name: &str| {
        form.get(&format!("effect_{i}_{name}"))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let figure =
        |v: Option<String>| v.map(|v| v.replace(',', "").parse::<f64>().unwrap_or(f64::NAN));
    Some(
        (0..OTHER_EFFECTS_MAX + BLANK_ROWS)
            .filter_map(|i| {
                let row = OtherEffectInput {
                    what: field(i, "what"),
                    before: figure(field(i, "before")),
                    after: figure(field(i, "after")),
                    unit: field(i, "unit"),
                    note: field(i, "note"),
                };
                let blank = row.what.is_none()
                    && row.before.is_none()
                    && row.after.is_none()
                    && row.unit.is_none()
                    && row.note.is_none();
                (!blank).then_some(row)
            })
            .collect(),
    )
}

/// An entry's effects as the form's draft values.
pub fn draft(effects: &[OtherEffect], draft: &mut HashMap<String, String>) {
    for (i, e) in effects.iter().enumerate() {
        draft.insert(format!("effect_{i}_what"), e.what.clone());
        draft.insert(format!("effect_{i}_before"), figure(e.before));
        draft.insert(format!("effect_{i}_after"), figure(e.after));
        draft.insert(format!("effect_{i}_unit"), e.unit.clone());
        if let Some(note) = &e.note {
            draft.insert(format!("effect_{i}_note"), note.clone());
        }
    }
}

/// The form's rows from the draft: the filled ones and a few blank ones.
pub fn rows(draft: &HashMap<String, String>) -> Vec<Value> {
    let get = |i: usize, name: &str| draft.get(&format!("effect_{i}_{name}")).cloned();
    let filled = (0..OTHER_EFFECTS_MAX + BLANK_ROWS)
        .filter(|i| {
            ["what", "before", "after", "unit", "note"]
                .iter()
                .any(|n| get(*i, n).is_some())
        })
        .count();
    (0..(filled + BLANK_ROWS).min(OTHER_EFFECTS_MAX))
        .map(|i| {
            json!({"index": i, "what": get(i, "what"), "before": get(i, "before"), "after": get(i, "after"),
                   "unit": get(i, "unit"), "note": get(i, "note")})
        })
        .collect()
}

/// A before or after figure as people write it: `100`, `5.8`.
pub fn figure(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// An entry's effects for its page.
pub fn view(effects: &[OtherEffect]) -> Vec<Value> {
    effects
        .iter()
        .map(|e| json!({"what": e.what, "before": figure(e.before), "after": figure(e.after), "unit": e.unit, "note": e.note}))
        .collect()
}
