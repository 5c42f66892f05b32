//! The JSON API under `/api/v1`, one file per resource, and its OpenAPI document.

mod accounts;
mod carddav;
mod cards;
pub(crate) mod directory;
mod groups;
mod invites;

use super::AppState;
use crate::domain::group::GroupWithMembership;
use crate::domain::model::{Account, Invite, MemberRow, Terminal};
use axum::Router;
use axum::routing::get;
use roster_proto::api as wire;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .merge(accounts::router())
        .merge(cards::router())
        .merge(carddav::router())
        .merge(groups::router())
        .merge(invites::router())
        .merge(directory::router())
}

/// The OpenAPI document, generated from the handlers and wire types.
#[derive(OpenApi)]
#[openapi(
    info(title = "Roster", description = "A self-hosted group directory: every member's terminals receive the cards of the other members of their groups."),
    paths(
        accounts::register, accounts::login, accounts::logout, accounts::me, accounts::update_me, accounts::my_audience, accounts::delete_me, accounts::change_password,
        accounts::list_terminals, accounts::revoke_terminal,
        cards::get_card, cards::put_card,
        carddav::create_app_password, carddav::put_terminal_books, carddav::get_directory_settings, carddav::put_directory_settings,
        groups::list_groups, groups::create_group, groups::get_group, groups::update_group, groups::delete_group,
        groups::list_members, groups::update_member, groups::remove_member, groups::approve_member,
        groups::deny_member, groups::leave_group, groups::transfer_group, groups::get_share_policy,
        groups::put_share_policy,
        invites::create_invite, invites::list_invites, invites::revoke_invite, invites::accept_invite,
        directory::get_directory, directory::get_changes,
        crate::http::stream::stream, crate::http::stream::create_ticket,
    ),
    components(schemas(wire::Problem, roster_proto::stream::ClientFrame, roster_proto::stream::ServerFrame)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session terminal's token (POST /api/v1/sessions). App passwords open CardDAV only \
                         and are refused here with 403.",
                    ))
                    .build(),
            ),
        );
    }
}

/// GET /api/v1/openapi.json
async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn account_view(account: &Account) -> wire::AccountView {
    wire::AccountView {
        id: account.id.0,
        login: account.login.clone(),
        display_name: account.display_name.clone(),
        created_at: rfc3339(account.created_at),
    }
}

pub(crate) fn terminal_view(terminal: &Terminal, current: bool, connected: bool) -> wire::TerminalView {
    wire::TerminalView {
        id: terminal.id.0,
        name: terminal.name.clone(),
        kind: terminal.kind,
        created_at: rfc3339(terminal.created_at),
        last_seen_at: terminal.last_seen_at.map(rfc3339),
        current,
        connected,
        group_books: terminal.group_books,
        client: terminal.client.clone(),
    }
}

pub(crate) fn group_view(g: &GroupWithMembership) -> wire::GroupView {
    wire::GroupView {
        id: g.group.id.0,
        name: g.group.name.clone(),
        description: g.group.description.clone(),
        owner_id: g.group.owner_id.0,
        join_policy: g.group.join_policy,
        member_limit: g.group.member_limit,
        member_count: g.group.member_count,
        version: g.group.version,
        role: g.membership.role,
        state: g.membership.state,
        created_at: rfc3339(g.group.created_at),
    }
}

pub(crate) fn member_view(row: &MemberRow) -> wire::MemberView {
    wire::MemberView {
        account_id: row.membership.account_id.0,
        display_name: row.display_name.clone(),
        role: row.membership.role,
        state: row.membership.state,
        since: rfc3339(row.membership.since),
    }
}

pub(crate) fn invite_view(invite: &Invite, code: Option<String>, url: Option<String>) -> wire::InviteView {
    wire::InviteView {
        id: invite.id.0,
        group_id: invite.group_id.0,
        code,
        url,
        expires_at: rfc3339(invite.expires_at),
        max_uses: invite.max_uses,
        uses: invite.uses,
        created_at: rfc3339(invite.created_at),
    }
}
