//! Creating a group, editing its settings and deleting it.

use super::forms::{DeleteForm, Field, GroupForm, policy_value};
use super::{Done, GroupNav, Limits, Marks, form_fields};
use crate::domain::ids::GroupId;
use crate::http::AppState;
use crate::http::web::session::{CsrfForm, Page, Signed};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use roster_proto::api::JoinPolicy;
use serde::Deserialize;
use uuid::Uuid;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/groups/new", get(new_group).post(create_group))
        .route("/groups/{id}/settings", get(group_settings).post(update_group))
        .route("/groups/{id}/delete", post(delete_group))
}

/// The choices of `#group-form`'s join policy select, with their message keys.
const POLICIES: [(&str, &str); 3] = [
    ("open", "admin-policy-open"),
    ("approval", "admin-policy-approval"),
    ("open_with_link", "admin-policy-open-with-link"),
];

/// `/groups/new` and `/groups/{id}/settings`.
#[derive(Template)]
#[template(path = "web/admin/group_form.html")]
struct GroupFormPage {
    page: Page,
    heading: String,
    /// `None` while the group does not exist yet.
    group: Option<GroupNav>,
    action: String,
    submit: String,
    form: GroupForm,
    marks: Marks,
    saved: bool,
    can_delete: bool,
    server_limit: u32,
    limit_hint: String,
    policies: [(&'static str, &'static str); 3],
}

impl GroupFormPage {
    fn new(page: Page, limits: Limits, form: GroupForm, marks: Marks) -> Self {
        GroupFormPage {
            heading: page.t("admin-new-title"),
            action: "/groups/new".into(),
            submit: page.t("admin-group-create"),
            limit_hint: page.t1("admin-group-member-limit-hint", "max", limits.max_group_size),
            server_limit: limits.max_group_size,
            group: None,
            form,
            marks,
            saved: false,
            can_delete: false,
            policies: POLICIES,
            page,
        }
    }

    fn settings(page: Page, limits: Limits, group: GroupNav, can_delete: bool, form: GroupForm, marks: Marks) -> Self {
        let mut this = Self::new(page, limits, form, marks);
        this.heading = this.page.t1("admin-settings-title", "group", group.name.clone());
        this.action = format!("/groups/{}/settings", group.id);
        this.submit = this.page.t("admin-group-save");
        this.can_delete = can_delete;
        this.group = Some(group);
        this
    }
}

/// GET /groups/new — the empty group form.
async fn new_group(State(state): State<AppState>, Signed { page, .. }: Signed) -> Done {
    let form = GroupForm {
        join_policy: policy_value(JoinPolicy::Approval).to_string(),
        ..GroupForm::default()
    };
    let limits = Limits::of(&state);
    Ok(GroupFormPage::new(page, limits, form, Marks::default()).into_response())
}

/// POST /groups/new — create the group, then show it.
async fn create_group(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Done {
    let limits = Limits::of(&state);
    let fields = match form.create_request() {
        Ok(request) => match state.roster.create_group(&caller, &request).await {
            Ok(created) => return Ok(Redirect::to(&format!("/groups/{}", created.group.id)).into_response()),
            Err(error) => form_fields(error)?,
        },
        Err(fields) => fields,
    };
    let marks = Marks::new(&page, &fields, limits);
    Ok(invalid(GroupFormPage::new(page, limits, form, marks)))
}

/// Whether the settings page follows a save.
#[derive(Debug, Default, Deserialize)]
struct SettingsQuery {
    saved: Option<String>,
}

/// GET /groups/{id}/settings — the group form with the group's values (admins).
async fn group_settings(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<Uuid>,
    Query(query): Query<SettingsQuery>,
) -> Done {
    let limits = Limits::of(&state);
    let found = state.roster.admin_group(&caller, GroupId(id)).await?;
    let form = GroupForm::of(&found.group, limits.max_group_size);
    let can_delete = found.membership.role == roster_proto::api::Role::Owner;
    let mut view = GroupFormPage::settings(page, limits, GroupNav::of(&found.group), can_delete, form, Marks::default());
    view.saved = query.saved.is_some();
    Ok(view.into_response())
}

/// POST /groups/{id}/settings — save the group form (admins).
async fn update_group(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<Uuid>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Done {
    let limits = Limits::of(&state);
    let id = GroupId(id);
    let current = state.roster.admin_group(&caller, id).await?;
    let fields = match form.update_request(limits.max_group_size) {
        Ok(request) => match state.roster.update_group(&caller, id, &request).await {
            Ok(_) => return Ok(Redirect::to(&format!("/groups/{id}/settings?saved=1")).into_response()),
            Err(error) => form_fields(error)?,
        },
        Err(fields) => fields,
    };
    let can_delete = current.membership.role == roster_proto::api::Role::Owner;
    let marks = Marks::new(&page, &fields, limits);
    let view = GroupFormPage::settings(page, limits, GroupNav::of(&current.group), can_delete, form, marks);
    Ok(invalid(view))
}

/// POST /groups/{id}/delete — delete the group once the box is ticked (owner).
async fn delete_group(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<Uuid>,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Done {
    let id = GroupId(id);
    if form.confirm.is_some() {
        state.roster.delete_group(&caller, id).await?;
        return Ok(Redirect::to("/groups").into_response());
    }
    let limits = Limits::of(&state);
    let current = state.roster.admin_group(&caller, id).await?;
    let can_delete = current.membership.role == roster_proto::api::Role::Owner;
    let marks = Marks::new(&page, &[Field::DeleteConfirm], limits);
    let form = GroupForm::of(&current.group, limits.max_group_size);
    let view = GroupFormPage::settings(page, limits, GroupNav::of(&current.group), can_delete, form, marks);
    Ok(invalid(view))
}

/// A form shown again with its errors marked.
fn invalid(view: GroupFormPage) -> axum::response::Response {
    (StatusCode::UNPROCESSABLE_ENTITY, view).into_response()
}
