//! A group's join requests and members: approve, deny, change roles, remove, hand the group on.
//!
//! Removing and transferring go through a confirmation page (a GET that changes nothing, whose
//! form makes the POST), so that they work the same without JavaScript.

use super::forms::RoleForm;
use super::{Done, GroupNav, moment, path_id};
use crate::domain::Error;
use crate::domain::ids::{AccountId, GroupId};
use crate::domain::model::MemberRow;
use crate::domain::terminal::Caller;
use crate::http::AppState;
use crate::http::web::auth::Empty;
use crate::http::web::error::WebResult;
use crate::http::web::session::{CsrfForm, Page, Signed};
use crate::http::web::{render, see_other};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use fluent_templates::fluent_bundle::FluentValue;
use roster_proto::api::{MembershipState, Role};

/// The routes of a group's members and join requests.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/groups/{id}/members", get(list_members))
        .route("/groups/{id}/members/{account_id}/role", post(set_role))
        .route(
            "/groups/{id}/members/{account_id}/{action}",
            get(confirm_action).post(act_on_member),
        )
}

/// `/groups/{id}/members`.
#[derive(Template)]
#[template(path = "web/admin/members.html")]
struct MembersPage {
    page: Page,
    heading: String,
    members_heading: String,
    group: GroupNav,
    pending: Vec<Person>,
    members: Vec<Person>,
}

/// One `.pending` or `.member-row`, with the buttons the caller's role allows. The domain
/// decides again on every POST: hiding a button is only courtesy.
struct Person {
    account: AccountId,
    /// Display name, or the neutral label of a member who does not share their name.
    name: String,
    /// `owner`, `admin` or `member`, as the role select's values.
    role: &'static str,
    /// The role's message key.
    role_key: &'static str,
    /// The label of the role select, naming the member.
    role_label: String,
    /// Member since, or asked on.
    since: String,
    is_me: bool,
    can_set_role: bool,
    can_remove: bool,
    can_transfer: bool,
}

fn role_names(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::Owner => ("owner", "admin-role-owner"),
        Role::Admin => ("admin", "admin-role-admin"),
        Role::Member => ("member", "admin-role-member"),
    }
}

impl Person {
    fn new(page: &Page, row: &MemberRow, me: &Caller, my_role: Role) -> Self {
        let membership = &row.membership;
        let is_me = membership.account_id == me.account.id;
        let is_owner = my_role == Role::Owner;
        let active = membership.is_active();
        let (role, role_key) = role_names(membership.role);
        let since_key = if active {
            "admin-member-since"
        } else {
            "admin-requested"
        };
        Person {
            account: membership.account_id,
            name: row.display_name.clone(),
            role,
            role_key,
            role_label: page.t1("admin-role-label", "name", row.display_name.clone()),
            since: page.t1(since_key, "date", moment(membership.since)),
            is_me,
            can_set_role: active && is_owner && membership.role != Role::Owner,
            can_remove: active
                && !is_me
                && membership.role != Role::Owner
                && (membership.role == Role::Member || is_owner),
            can_transfer: active && is_owner && !is_me,
        }
    }
}

/// The group (for admins only) and its members and requests as the domain lists them.
async fn admin_view(state: &AppState, caller: &Caller, id: GroupId) -> WebResult<(GroupNav, Role, Vec<MemberRow>)> {
    let found = state.roster.admin_group(caller, id).await?;
    let rows = state.roster.members(caller, id).await?;
    Ok((GroupNav::of(&found.group), found.membership.role, rows))
}

/// GET /groups/{id}/members — join requests and members (admins).
async fn list_members(State(state): State<AppState>, Signed { page, caller }: Signed, Path(id): Path<String>) -> Done {
    let (group, my_role, rows) = admin_view(&state, &caller, path_id(&id, "group")?).await?;
    let people = |wanted: MembershipState| -> Vec<Person> {
        rows.iter()
            .filter(|row| row.membership.state == wanted)
            .map(|row| Person::new(&page, row, &caller, my_role))
            .collect()
    };
    let pending = people(MembershipState::Pending);
    let members = people(MembershipState::Active);
    render(&MembersPage {
        heading: page.t1("admin-members-title", "group", group.name.clone()),
        members_heading: page.t1("admin-members-heading", "count", members.len()),
        group,
        pending,
        members,
        page,
    })
}

/// The group and the account a member action is about, from its path.
fn member_path((group, account): (String, String)) -> WebResult<(GroupId, AccountId)> {
    Ok((path_id(&group, "group")?, path_id(&account, "member")?))
}

/// Back to the members page after an action.
fn to_members(id: GroupId) -> Done {
    Ok(see_other(&format!("/groups/{id}/members")))
}

/// POST /groups/{id}/members/{account_id}/role — make a member an admin or back (owner).
async fn set_role(
    State(state): State<AppState>,
    Signed { caller, .. }: Signed,
    Path(path): Path<(String, String)>,
    CsrfForm { form, .. }: CsrfForm<RoleForm>,
) -> Done {
    let (id, account) = member_path(path)?;
    state.roster.set_role(&caller, id, account, form.role).await?;
    to_members(id)
}

/// A question before a destructive action: its form makes the POST.
#[derive(Template)]
#[template(path = "web/admin/confirm.html")]
struct ConfirmPage {
    page: Page,
    title: String,
    text: String,
    action: String,
    submit: String,
    cancel: String,
}

/// What a button of a `.pending` or `.member-row` does, as its path ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberAction {
    /// Accept a join request.
    Approve,
    /// Refuse a join request.
    Deny,
    /// Remove a member (asked first).
    Remove,
    /// Hand the group to a member (asked first).
    Transfer,
}

impl MemberAction {
    /// The action a path names; anything else is a page that does not exist.
    fn parse(path: &str) -> WebResult<Self> {
        Ok(match path {
            "approve" => MemberAction::Approve,
            "deny" => MemberAction::Deny,
            "remove" => MemberAction::Remove,
            "transfer" => MemberAction::Transfer,
            _ => return Err(Error::NotFound("page").into()),
        })
    }

    /// The message keys of the confirmation page (title, text, button), for the actions
    /// that ask first.
    fn question(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            MemberAction::Remove => Some((
                "admin-confirm-remove-title",
                "admin-confirm-remove-text",
                "admin-confirm-remove-submit",
            )),
            MemberAction::Transfer => Some((
                "admin-confirm-transfer-title",
                "admin-confirm-transfer-text",
                "admin-confirm-transfer-submit",
            )),
            MemberAction::Approve | MemberAction::Deny => None,
        }
    }
}

/// POST /groups/{id}/members/{account_id}/{approve|deny|remove|transfer} (admins; transfer:
/// the owner).
async fn act_on_member(
    State(state): State<AppState>,
    Signed { caller, .. }: Signed,
    Path((group, account, action)): Path<(String, String, String)>,
    _: CsrfForm<Empty>,
) -> Done {
    let action = MemberAction::parse(&action)?;
    let (id, account) = member_path((group, account))?;
    let roster = &state.roster;
    match action {
        MemberAction::Approve => roster.approve(&caller, id, account).await?,
        MemberAction::Deny => roster.deny(&caller, id, account).await?,
        MemberAction::Remove => roster.remove_member(&caller, id, account).await?,
        MemberAction::Transfer => roster.transfer_ownership(&caller, id, account).await?,
    }
    to_members(id)
}

/// GET /groups/{id}/members/{account_id}/{remove|transfer} — ask before a destructive action;
/// the page's form makes the POST (admins).
async fn confirm_action(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path((group, account, action)): Path<(String, String, String)>,
) -> Done {
    let path = action;
    let action = MemberAction::parse(&path)?;
    let (title, text, submit) = action.question().ok_or(Error::NotFound("page"))?;
    let (id, account) = member_path((group, account))?;
    let (group, _, rows) = admin_view(&state, &caller, id).await?;
    let person = rows
        .iter()
        .find(|row| row.membership.account_id == account && row.membership.is_active())
        .ok_or(Error::NotFound("member"))?;
    let args = [
        ("name", FluentValue::from(person.display_name.clone())),
        ("group", FluentValue::from(group.name.clone())),
    ];
    render(&ConfirmPage {
        title: page.lang.t_args(title, &args),
        text: page.lang.t_args(text, &args),
        submit: page.t(submit),
        action: format!("/groups/{id}/members/{account}/{path}"),
        cancel: format!("/groups/{id}/members"),
        page,
    })
}
