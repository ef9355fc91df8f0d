//! The use cases of the desk: filing, firing a workflow event, editing,
//! commenting, the queue views, the ledger, the directory, reports and the SLA
//! sweep. Each takes the [`Caller`] and typed input, decides whether the caller may
//! do it, runs the transaction (with its mail queued in the outbox) and returns a
//! typed result or an [`Error`]. Both front doors — the JSON API and the HTML pages
//! (`web`) — call these functions, so the same caller with the same input reaches
//! the same outcome; the command line and the demo loader use them too.
//!
//! Functions here are synchronous and take a database connection: the web layer
//! runs them on its blocking pool. Nothing here knows about HTTP.

pub mod attachments;
pub mod caller;
pub mod consultations;
pub mod directory;
pub mod directory_sign_in;
pub mod effects;
pub mod error;
pub mod faq;
pub mod idempotency;
pub mod inquiries;
pub mod kintone;
pub mod ldap;
pub mod ledger;
pub mod outbox;
pub mod password_reset;
pub mod reorg;
pub mod reports;
pub mod sessions;
pub mod sweep;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;

pub use caller::Caller;
pub use error::{Error, Result};

use crate::domain::calendar::BusinessCalendar;
use crate::domain::sla::SlaPolicy;
use crate::domain::workflow::Rules;
use crate::notify::Notifier;
use crate::reports::ledger::EffectsSettings;
use crate::settings::Settings;

/// The rules and services every use case needs, built once from the settings.
pub struct App {
    pub rules: Rules,
    pub sla: SlaPolicy,
    pub calendar: BusinessCalendar,
    pub notifier: Notifier,
    /// The zone of calendar days (fiscal years, review dates) and of times shown.
    pub timezone: Tz,
    /// How the ledger's effects are reckoned.
    pub effects: EffectsSettings,
    /// Where attachments are kept, and how big they may be.
    pub files: crate::storage::FileStore,
    pub attachment_limits: crate::domain::attachment::Limits,
    /// Dashboards of the last moments.
    pub dashboards: reports::DashboardCache,
    /// The city's directory, when sign-in goes through it.
    pub directory: Option<ldap::Ldap>,
    /// How long a password reset link works.
    pub password_reset_ttl: chrono::Duration,
}

impl App {
    pub fn new(settings: &Settings) -> Result<App, String> {
        Ok(App {
            rules: Rules {
                reopen_window: chrono::Duration::days(settings.reopen_window_days),
            },
            sla: settings.sla,
            calendar: BusinessCalendar::new(settings.timezone),
            notifier: Notifier::new(settings)?,
            timezone: settings.timezone,
            files: crate::storage::FileStore::new(&settings.data_dir),
            attachment_limits: settings.attachments,
            dashboards: reports::DashboardCache::new(std::time::Duration::from_millis(
                settings.dashboard_cache_ms,
            )),
            directory: settings.ldap.clone().map(ldap::Ldap::new),
            password_reset_ttl: chrono::Duration::hours(settings.password_reset_hours),
            effects: EffectsSettings {
                hours_per_person_year: settings.hours_per_person_year,
                annual_target_hours: settings.annual_target_hours,
                timezone: settings.timezone,
            },
        })
    }

    /// Today in the display zone (fiscal years and review dates are its days).
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.timezone).date_naive()
    }
}

/// A time as stored: UTC to the microsecond, which both databases keep exactly.
pub fn stored(at: DateTime<Utc>) -> NaiveDateTime {
    let at = at.naive_utc();
    at.with_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}
