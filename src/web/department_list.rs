//! The department list, kept in memory for a short while. The queue page offers every
//! active department (about 2,000 in a city) in its filter and names each row's
//! department; loading and rendering them on every request was most of that page's
//! cost. Changes made through this instance clear the copy at once; other instances
//! and the command line are seen within [`TTL`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use handlebars::Handlebars;
use serde_json::{json, Value};

use crate::db::departments::Department;

/// How long a copy is used before it is loaded again.
pub const TTL: Duration = Duration::from_secs(30);

/// Every department in code order, and the filter's options rendered once.
pub struct Departments {
    all: Vec<Department>,
    names: HashMap<i64, usize>,
    /// The queue filter's `<option>`s with none selected, the usual case.
    options_html: String,
}

impl Departments {
    pub fn new(all: Vec<Department>, pages: &Handlebars) -> Result<Departments, String> {
        let options_html = render_options(pages, &all, None)?;
        let names = all.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
        Ok(Departments {
            all,
            names,
            options_html,
        })
    }

    pub fn name(&self, id: i64) -> Option<&str> {
        self.names.get(&id).map(|&i| self.all[i].name.as_str())
    }

    /// The filter's `<option>`s of the active departments, `selected` (a code) marked.
    pub fn options_html(
        &self,
        pages: &Handlebars,
        selected: Option<&str>,
    ) -> Result<String, String> {
        match selected {
            None => Ok(self.options_html.clone()),
            Some(_) => render_options(pages, &self.all, selected),
        }
    }
}

fn render_options(
    pages: &Handlebars,
    all: &[Department],
    selected: Option<&str>,
) -> Result<String, String> {
    let options: Vec<Value> = all
        .iter()
        .filter(|d| d.active)
        .map(|d| json!({"value": d.code, "label": d.name, "selected": selected == Some(d.code.as_str())}))
        .collect();
    pages
        .render("department_options", &json!({ "departments": options }))
        .map_err(|e| format!("department options: {e}"))
}

/// The shared copy and when it was loaded.
#[derive(Default)]
pub struct DepartmentCache(Mutex<Option<(Instant, Arc<Departments>)>>);

impl DepartmentCache {
    /// The copy, unless there is none or it is older than [`TTL`].
    pub fn fresh(&self) -> Option<Arc<Departments>> {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .filter(|(loaded, _)| loaded.elapsed() < TTL)
            .map(|(_, departments)| departments.clone())
    }

    pub fn store(&self, departments: Arc<Departments>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), departments));
    }

    /// Forgets the copy after a department was added or changed.
    pub fn clear(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
