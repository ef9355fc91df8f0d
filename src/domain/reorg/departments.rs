//! The departments file: `action,code,name,kind,parent,merge_into[,email]`.
//!
//! - `create`: `code`, `name`, optional `kind` (from the parent when blank) and
//!   `parent` (blank: a top-level bureau or ward).
//! - `update`: `code` and a new `name` and/or `kind`.
//! - `move`: `code` under a new `parent`.
//! - `merge`: `code` into `merge_into`: its active people and open tickets go to
//!   the survivor, and it is deactivated; its closed tickets stay with it.
//! - `deactivate`: `code`, refused while it has active people, open tickets or
//!   active units below it.
//! - `transfer`: the person `email` to the unit `code`, so that the people who
//!   move with a reorganisation go in the same file as the units (the users file
//!   has `transfer` too, for moves on their own).
//!
//! A row that would change nothing (a create of an identical department, a move to
//! where it already is, a merge already done) is skipped, so a file can be run
//! again.

use std::collections::HashMap;

use serde::Serialize;

use super::{rows, text, Problem, Row};
use crate::domain::directory::{DEPARTMENT_KINDS, NAME_MAX_CHARS};

pub const COLUMNS: &[&str] = &[
    "action",
    "code",
    "name",
    "kind",
    "parent",
    "merge_into",
    "email",
];
const REQUIRED: &[&str] = &["action", "code"];

/// A department as the plan sees it, by code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub parent: Option<String>,
    pub active: bool,
    /// Active users in it.
    pub people: i64,
    /// Consultations and inquiries not yet closed.
    pub open_tickets: i64,
}

/// One change to apply, by codes (a created department has no id yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    Create {
        code: String,
        name: String,
        kind: String,
        parent: Option<String>,
    },
    Update {
        code: String,
        name: Option<String>,
        kind: Option<String>,
    },
    Move {
        code: String,
        parent: String,
    },
    Merge {
        code: String,
        into: String,
    },
    Deactivate {
        code: String,
    },
    Transfer {
        email: String,
        /// The unit they move to.
        code: String,
    },
}

/// What a file would do: the changes in file order with their lines, how many
/// rows change nothing, and every problem.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: Vec<(usize, Change)>,
    pub unchanged: usize,
    pub problems: Vec<Problem>,
}

/// The kind a new unit gets under a parent of `parent_kind`.
fn default_kind(parent_kind: Option<&str>) -> &'static str {
    match parent_kind {
        None => "bureau",
        Some("bureau") | Some("ward") => "division",
        Some(_) => "section",
    }
}

struct Tree(HashMap<String, Unit>);

/// Active people by e-mail address, with the code of their unit.
pub type People = HashMap<String, String>;

impl Tree {
    /// Whether `code` is `ancestor` or lies below it.
    fn is_within(&self, code: &str, ancestor: &str) -> bool {
        let mut at = Some(code.to_string());
        let mut steps = 0;
        while let Some(c) = at {
            if c == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.0.len() {
                return false;
            }
            at = self.0.get(&c).and_then(|u| u.parent.clone());
        }
        false
    }

    fn has_active_children(&self, code: &str) -> bool {
        self.0
            .values()
            .any(|u| u.active && u.parent.as_deref() == Some(code))
    }

    /// An existing active unit named in `column`, or a problem.
    fn active(&self, problems: &mut Vec<Problem>, row: &Row, column: &str) -> Option<String> {
        let code = row.get(column)?;
        match self.0.get(code) {
            Some(u) if u.active => Some(code.to_string()),
            Some(_) => {
                problems.push(Problem::new(row.line, column, "import.inactive_department"));
                None
            }
            None => {
                problems.push(Problem::new(
                    row.line,
                    column,
                    "validation.unknown_department",
                ));
                None
            }
        }
    }
}

/// Plans a departments file over the current units and their people.
pub fn plan(text_of_file: &str, current: Vec<Unit>, mut people: People) -> Plan {
    let rows = match rows(text_of_file, COLUMNS, REQUIRED) {
        Ok(rows) => rows,
        Err(problems) => {
            return Plan {
                problems,
                ..Plan::default()
            }
        }
    };
    let mut tree = Tree(current.into_iter().map(|u| (u.code.clone(), u)).collect());
    let mut plan = Plan::default();
    for row in &rows {
        let before = plan.problems.len();
        let change = plan_row(&mut tree, &mut people, &mut plan.problems, row);
        match change {
            Some(change) => plan.changes.push((row.line, change)),
            None if plan.problems.len() == before => plan.unchanged += 1,
            None => {}
        }
    }
    plan
}

/// The change of one row (applied to the tree), or `None` for a row that changes
/// nothing or has problems.
fn plan_row(
    tree: &mut Tree,
    people: &mut People,
    problems: &mut Vec<Problem>,
    row: &Row,
) -> Option<Change> {
    let action = row.get("action").unwrap_or_default().to_lowercase();
    let code = text(problems, row, "code", true, 50);
    if code
        .as_deref()
        .is_some_and(|c| c.contains(char::is_whitespace))
    {
        problems.push(Problem::new(row.line, "code", "validation.choice"));
        return None;
    }
    let kind = text(problems, row, "kind", false, 20);
    if let Some(k) = &kind {
        if !DEPARTMENT_KINDS.contains(&k.as_str()) {
            problems.push(Problem::new(row.line, "kind", "validation.choice"));
            return None;
        }
    }
    let name = text(problems, row, "name", action == "create", NAME_MAX_CHARS);
    match action.as_str() {
        "create" => create(tree, problems, row, code, name, kind),
        "transfer" => transfer(tree, people, problems, row, code),
        "update" | "move" | "merge" | "deactivate" => {
            let code = code?;
            let Some(unit) = tree.0.get(&code).cloned() else {
                problems.push(Problem::new(
                    row.line,
                    "code",
                    "validation.unknown_department",
                ));
                return None;
            };
            match action.as_str() {
                "update" => update(tree, problems, row, unit, name, kind),
                "move" => move_unit(tree, problems, row, unit),
                "merge" => merge(tree, people, problems, row, unit),
                _ => deactivate(tree, problems, row, unit),
            }
        }
        _ => {
            problems.push(Problem::new(row.line, "action", "import.unknown_action"));
            None
        }
    }
}

fn create(
    tree: &mut Tree,
    problems: &mut Vec<Problem>,
    row: &Row,
    code: Option<String>,
    name: Option<String>,
    kind: Option<String>,
) -> Option<Change> {
    let parent = match row.get("parent") {
        Some(_) => Some(tree.active(problems, row, "parent")?),
        None => None,
    };
    let (code, name) = (code?, name?);
    let parent_kind = parent
        .as_ref()
        .and_then(|p| tree.0.get(p))
        .map(|p| p.kind.as_str());
    let kind = kind.unwrap_or_else(|| default_kind(parent_kind).to_string());
    if let Some(existing) = tree.0.get(&code) {
        let same = existing.name == name && existing.kind == kind && existing.parent == parent;
        if !existing.active {
            problems.push(Problem::new(row.line, "code", "import.inactive_department"));
        } else if !same {
            problems.push(Problem::new(row.line, "code", "validation.taken"));
        }
        return None;
    }
    tree.0.insert(
        code.clone(),
        Unit {
            code: code.clone(),
            name: name.clone(),
            kind: kind.clone(),
            parent: parent.clone(),
            active: true,
            people: 0,
            open_tickets: 0,
        },
    );
    Some(Change::Create {
        code,
        name,
        kind,
        parent,
    })
}

fn update(
    tree: &mut Tree,
    problems: &mut Vec<Problem>,
    row: &Row,
    unit: Unit,
    name: Option<String>,
    kind: Option<String>,
) -> Option<Change> {
    if name.is_none() && kind.is_none() {
        if row.get("name").is_none() && row.get("kind").is_none() {
            problems.push(Problem::new(row.line, "name", "import.nothing_to_update"));
        }
        return None;
    }
    let name = name.filter(|n| *n != unit.name);
    let kind = kind.filter(|k| *k != unit.kind);
    if name.is_none() && kind.is_none() {
        return None;
    }
    let entry = tree.0.get_mut(&unit.code)?;
    if let Some(n) = &name {
        entry.name = n.clone();
    }
    if let Some(k) = &kind {
        entry.kind = k.clone();
    }
    Some(Change::Update {
        code: unit.code,
        name,
        kind,
    })
}

fn move_unit(
    tree: &mut Tree,
    problems: &mut Vec<Problem>,
    row: &Row,
    unit: Unit,
) -> Option<Change> {
    if row.get("parent").is_none() {
        problems.push(Problem::new(row.line, "parent", "validation.required"));
        return None;
    }
    let parent = tree.active(problems, row, "parent")?;
    if unit.parent.as_deref() == Some(parent.as_str()) {
        return None;
    }
    if tree.is_within(&parent, &unit.code) {
        problems.push(Problem::new(row.line, "parent", "import.cycle"));
        return None;
    }
    tree.0.get_mut(&unit.code)?.parent = Some(parent.clone());
    Some(Change::Move {
        code: unit.code,
        parent,
    })
}

fn merge(
    tree: &mut Tree,
    people: &mut People,
    problems: &mut Vec<Problem>,
    row: &Row,
    unit: Unit,
) -> Option<Change> {
    let Some(into) = row.get("merge_into").map(str::to_string) else {
        problems.push(Problem::new(row.line, "merge_into", "validation.required"));
        return None;
    };
    if into == unit.code {
        problems.push(Problem::new(
            row.line,
            "merge_into",
            "import.merge_into_itself",
        ));
        return None;
    }
    let into = tree.active(problems, row, "merge_into")?;
    if !unit.active && unit.people == 0 && unit.open_tickets == 0 {
        // Merged before: nothing is left to move.
        return None;
    }
    if tree.has_active_children(&unit.code) {
        problems.push(Problem::new(row.line, "code", "import.has_active_units"));
        return None;
    }
    if let Some(merged) = tree.0.get_mut(&unit.code) {
        merged.active = false;
        merged.people = 0;
        merged.open_tickets = 0;
    }
    if let Some(survivor) = tree.0.get_mut(&into) {
        survivor.people += unit.people;
        survivor.open_tickets += unit.open_tickets;
    }
    for at in people.values_mut().filter(|at| **at == unit.code) {
        *at = into.clone();
    }
    Some(Change::Merge {
        code: unit.code,
        into,
    })
}

fn transfer(
    tree: &mut Tree,
    people: &mut People,
    problems: &mut Vec<Problem>,
    row: &Row,
    code: Option<String>,
) -> Option<Change> {
    let email = text(problems, row, "email", true, 254).map(|e| e.to_lowercase());
    code?;
    let to = tree.active(problems, row, "code")?;
    let email = email?;
    let Some(from) = people.get(&email).cloned() else {
        problems.push(Problem::new(row.line, "email", "import.unknown_user"));
        return None;
    };
    if from == to {
        return None;
    }
    for (code, step) in [(&from, -1), (&to, 1)] {
        if let Some(unit) = tree.0.get_mut(code) {
            unit.people += step;
        }
    }
    people.insert(email.clone(), to.clone());
    Some(Change::Transfer { email, code: to })
}

fn deactivate(
    tree: &mut Tree,
    problems: &mut Vec<Problem>,
    row: &Row,
    unit: Unit,
) -> Option<Change> {
    if !unit.active {
        return None;
    }
    let before = problems.len();
    if unit.people > 0 {
        problems.push(Problem::new(row.line, "code", "import.has_people"));
    }
    if unit.open_tickets > 0 {
        problems.push(Problem::new(row.line, "code", "import.has_open_tickets"));
    }
    if tree.has_active_children(&unit.code) {
        problems.push(Problem::new(row.line, "code", "import.has_active_units"));
    }
    if problems.len() > before {
        return None;
    }
    tree.0.get_mut(&unit.code)?.active = false;
    Some(Change::Deactivate { code: unit.code })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(code: &str, kind: &str, parent: Option<&str>, people: i64, open: i64) -> Unit {
        Unit {
            code: code.into(),
            name: format!("{code}名"),
            kind: kind.into(),
            parent: parent.map(str::to_string),
            active: true,
            people,
            open_tickets: open,
        }
    }

    fn city() -> Vec<Unit> {
        vec![
            unit("B1", "bureau", None, 0, 0),
            unit("B2", "bureau", None, 0, 0),
            unit("D1", "division", Some("B1"), 2, 1),
            unit("S1", "section", Some("D1"), 3, 2),
        ]
    }

    /// D1's two people and S1's three.
    fn people() -> People {
        [
            ("a", "D1"),
            ("b", "D1"),
            ("c", "S1"),
            ("d", "S1"),
            ("e", "S1"),
        ]
        .into_iter()
        .map(|(who, at)| (format!("{who}@city.test"), at.to_string()))
        .collect()
    }

    #[test]
    fn people_transferred_in_the_same_file_follow_the_units_above_them() {
        let plan = plan(
            "action,code,name,kind,parent,merge_into,email\n\
             create,D2,新設課,,B2,,\n\
             transfer,D2,,,,,C@city.test\n\
             merge,S1,,,,D1,\n\
             transfer,D2,,,,,d@city.test\n\
             transfer,D2,,,,,a@city.test\n\
             transfer,D2,,,,,b@city.test\n\
             transfer,D2,,,,,e@city.test\n\
             transfer,D2,,,,,e@city.test\n\
             transfer,D1,,,,,nobody@city.test\n\
             transfer,S1,,,,,c@city.test\n",
            city(),
            people(),
        );
        let found: Vec<(usize, &str, &str)> = plan
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (10, "email", "import.unknown_user"),
                (11, "code", "import.inactive_department"),
            ]
        );
        // d and e were in S1, merged into D1 at line 4; the second move of e is
        // already so.
        assert_eq!(
            plan.changes[1].1,
            Change::Transfer {
                email: "c@city.test".into(),
                code: "D2".into()
            }
        );
        assert_eq!(plan.changes.len(), 7);
        assert_eq!(plan.unchanged, 1);
        let emptied = super::plan(
            "action,code,email\n\
             transfer,B2,a@city.test\n\
             transfer,B2,b@city.test\n\
             deactivate,D1,\n",
            city(),
            people(),
        );
        assert_eq!(
            emptied
                .problems
                .iter()
                .map(|p| (p.line, p.message.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (4, "import.has_open_tickets"),
                (4, "import.has_active_units")
            ],
            "D1's people left; its ticket and S1 stay"
        );
    }

    #[test]
    fn rows_apply_in_order_so_a_merge_can_follow_the_create_of_its_survivor() {
        let plan = plan(
            "action,code,name,kind,parent,merge_into\n\
             create,D2,新設課,,B2,\n\
             move,S1,,,D2,\n\
             merge,D1,,,,D2\n\
             update,D2,新設推進課,,,\n",
            city(),
            people(),
        );
        assert_eq!(plan.problems, vec![]);
        assert_eq!(plan.changes.len(), 4);
        assert_eq!(
            plan.changes[0].1,
            Change::Create {
                code: "D2".into(),
                name: "新設課".into(),
                kind: "division".into(),
                parent: Some("B2".into())
            }
        );
        assert_eq!(plan.changes[2].0, 4);
    }

    #[test]
    fn every_problem_is_reported_with_its_line_and_field() {
        let plan = plan(
            "action,code,name,kind,parent,merge_into\n\
             create,X1,,,NOPE,\n\
             move,B1,,,S1,\n\
             merge,D1,,,,D1\n\
             deactivate,S1,,,,\n\
             explode,B1,,,,\n\
             update,D1,,castle,,\n\
             create,B2,別名,,,\n",
            city(),
            people(),
        );
        let found: Vec<(usize, &str, &str)> = plan
            .problems
            .iter()
            .map(|p| (p.line, p.field.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, "name", "validation.required"),
                (2, "parent", "validation.unknown_department"),
                (3, "parent", "import.cycle"),
                (4, "merge_into", "import.merge_into_itself"),
                (5, "code", "import.has_people"),
                (5, "code", "import.has_open_tickets"),
                (6, "action", "import.unknown_action"),
                (7, "kind", "validation.choice"),
                (8, "code", "validation.taken"),
            ]
        );
    }

    #[test]
    fn a_second_run_of_the_same_rows_changes_nothing() {
        let file = "action,code,name,kind,parent,merge_into\n\
                    create,D2,新設課,division,B2,\n\
                    move,S1,,,D2,\n\
                    merge,D1,,,,D2\n";
        let after = vec![
            unit("B1", "bureau", None, 0, 0),
            unit("B2", "bureau", None, 0, 0),
            Unit {
                active: false,
                people: 0,
                open_tickets: 0,
                ..unit("D1", "division", Some("B1"), 0, 0)
            },
            Unit {
                name: "新設課".into(),
                ..unit("D2", "division", Some("B2"), 2, 1)
            },
            unit("S1", "section", Some("D2"), 3, 2),
        ];
        let plan = plan(file, after, People::new());
        assert_eq!(plan.problems, vec![]);
        assert_eq!(plan.changes, vec![]);
        assert_eq!(plan.unchanged, 3);
    }

    #[test]
    fn the_survivor_of_a_merge_takes_its_people_so_it_cannot_be_deactivated_next() {
        let plan = plan(
            "action,code,name,kind,parent,merge_into\n\
             merge,S1,,,,D1\n\
             deactivate,D1,,,,\n",
            city(),
            people(),
        );
        // D1 received S1's people: it cannot be switched off.
        assert_eq!(
            plan.problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>(),
            vec!["import.has_people", "import.has_open_tickets"]
        );
    }
}
