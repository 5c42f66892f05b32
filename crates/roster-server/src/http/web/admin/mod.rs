//! The group admin pages: creating a group, its settings and deletion, its invites, its join
//! requests and members.
//!
//! Every rule (who may do what, lengths, ranges) is the domain's: these handlers parse forms,
//! call it and render. A caller who is not an admin gets the domain's `Forbidden`, which the
//! web layer renders as an error page; nothing here decides that on its own.

mod forms;
mod group;
mod invites;
mod members;

use super::error::{WebError, WebResult};
use super::session::Page;
use crate::domain::Error;
use crate::domain::ids::GroupId;
use crate::domain::model::Group;
use crate::http::AppState;
use axum::Router;
use forms::Field;
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

/// The admin pages' routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .merge(group::router())
        .merge(invites::router())
        .merge(members::router())
}

/// The group a page is about, for its heading and navigation.
#[derive(Debug, Clone)]
struct GroupNav {
    /// Its id, in links.
    id: GroupId,
    /// Its name, as typed by an admin (escaped by the templates).
    name: String,
    /// Its version when the page was read (the script follows the stream from there).
    version: i64,
}

impl GroupNav {
    fn of(group: &Group) -> Self {
        GroupNav {
            id: group.id,
            name: group.name.clone(),
            version: group.version,
        }
    }
}

/// Localised messages for the inputs of a form that came back wrong, by input id.
#[derive(Debug, Default)]
struct Marks(Vec<(&'static str, String)>);

impl Marks {
    /// Marks each field with its message, worded with the limits the reader must meet.
    fn new(page: &Page, fields: &[Field], limits: Limits) -> Self {
        Marks(
            fields
                .iter()
                .map(|field| (field.input_id(), message(page, *field, limits)))
                .collect(),
        )
    }

    /// The message for an input, if it is marked.
    fn get(&self, input_id: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(id, _)| *id == input_id)
            .map(|(_, message)| message.as_str())
    }

    /// Whether an input is marked.
    fn has(&self, input_id: &str) -> bool {
        self.get(input_id).is_some()
    }

    /// Whether nothing is marked.
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The server's limits that the admin forms tell their readers.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Largest member limit.
    max_group_size: u32,
    /// Longest invite lifetime in days.
    max_invite_days: u64,
    /// Invite lifetime the form proposes, in days.
    default_invite_days: u64,
}

impl Limits {
    fn of(state: &AppState) -> Self {
        let settings = state.roster.settings();
        Limits {
            max_group_size: settings.max_group_size,
            max_invite_days: forms::whole_days(settings.invite_ttl_max).max(1),
            default_invite_days: forms::whole_days(settings.invite_ttl_default).max(1),
        }
    }
}

fn message(page: &Page, field: Field, limits: Limits) -> String {
    match field {
        Field::Name => page.t("admin-error-name"),
        Field::Description => page.t("admin-error-description"),
        Field::JoinPolicy => page.t("admin-error-join-policy"),
        Field::MemberLimit => page.t1("admin-error-member-limit", "max", limits.max_group_size),
        Field::DeleteConfirm => page.t("admin-error-delete-confirm"),
        Field::ExpiresDays => page.t1("admin-error-expires-days", "max", limits.max_invite_days),
        Field::MaxUses => page.t("admin-error-max-uses"),
    }
}

/// The fields a form can mark for a domain error, or the error for the error page when it is
/// not about the form's fields.
fn form_fields(error: Error) -> Result<Vec<Field>, WebError> {
    match error {
        Error::Invalid(errors) => {
            let fields: Option<Vec<Field>> = errors.iter().map(|e| Field::from_domain(&e.field)).collect();
            match fields {
                Some(fields) if !fields.is_empty() => Ok(fields),
                _ => Err(Error::Invalid(errors).into()),
            }
        }
        other => Err(other.into()),
    }
}

/// An id from the path: one that does not parse names nothing, like an unknown one.
fn path_id<T: From<Uuid>>(text: &str, what: &'static str) -> WebResult<T> {
    text.parse::<Uuid>()
        .map(T::from)
        .map_err(|_| WebError::Domain(Error::NotFound(what)))
}

/// A moment as the admin pages show it: UTC, to the minute.
fn moment(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_default()
}

/// What every admin handler answers: a page, or a redirect after a form.
type Done = WebResult<axum::response::Response>;
