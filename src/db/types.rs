//! How the domain's enumerations are stored: as their wire values in `TEXT`
//! columns, on both backends. A row holding a value no variant has is an error
//! when read, never a silent default.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::MultiBackend;
use crate::domain::inquiry::{Channel, InquiryState, Topic};
use crate::domain::ledger::{BuiltBy, Phase, Platform};
use crate::domain::{Category, Priority, Role, State};

macro_rules! text_columns {
    ($($name:ident),+ $(,)?) => {$(
        impl ToSql<Text, Sqlite> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.as_str());
                Ok(IsNull::No)
            }
        }

        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
            }
        }

        impl ToSql<Text, MultiBackend> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Sqlite> for $name {
            fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
                $name::parse(&text).ok_or_else(|| unknown(stringify!($name), &text))
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let text = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                $name::parse(&text).ok_or_else(|| unknown(stringify!($name), &text))
            }
        }

        impl FromSql<Text, MultiBackend> for $name {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<$name, Text>()
            }
        }
    )+};
}

fn unknown(kind: &str, value: &str) -> Box<dyn std::error::Error + Send + Sync> {
    format!("the database holds {value:?}, which is no {kind}").into()
}

text_columns!(
    State,
    Role,
    Priority,
    Category,
    Platform,
    Phase,
    BuiltBy,
    InquiryState,
    Topic,
    Channel
);
