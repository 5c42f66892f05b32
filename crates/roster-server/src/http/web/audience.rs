//! "Who can see my card": per group, the fields it receives and the members who receive them,
//! as [`crate::domain::Roster::audience`] says (the directory's own filter decides).

use super::error::WebResult;
use super::render;
use super::session::{Page, Signed};
use crate::domain::audience::GroupAudience;
use crate::http::AppState;
use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use roster_proto::api::CardField;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/me/audience", get(show))
}

/// The message naming a card field.
fn field_key(field: CardField) -> &'static str {
    match field {
        CardField::Name => "card-field-name",
        CardField::Phones => "card-field-phones",
        CardField::Emails => "card-field-emails",
        CardField::Organization => "card-field-organization",
        CardField::Address => "card-field-address",
        CardField::Birthday => "card-field-birthday",
        CardField::Note => "card-field-note",
        CardField::Photo => "card-field-photo",
    }
}

/// One group of the page.
struct GroupRow {
    audience: GroupAudience,
    /// Message keys of the fields it receives.
    fields: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "web/audience.html")]
struct AudiencePage {
    page: Page,
    groups: Vec<GroupRow>,
}

/// GET /me/audience
async fn show(State(state): State<AppState>, Signed { page, caller }: Signed) -> WebResult<Response> {
    let groups = state
        .roster
        .audience(&caller)
        .await?
        .into_iter()
        .map(|audience| GroupRow {
            fields: audience.fields.fields().into_iter().map(field_key).collect(),
            audience,
        })
        .collect();
    render(&AudiencePage { page, groups })
}
