//! Creating a group, editing its settings and deleting it.

use super::forms::{DeleteForm, Field, GroupForm, policy_value};
use super::{Done, GroupNav, Limits, Marks, form_fields, path_id};
use crate::domain::group::GroupWithMembership;
use crate::domain::ids::GroupId;
use crate::http::AppState;
use crate::http::web::session::{CsrfForm, Page, Signed};
use crate::http::web::{render, render_status, see_other};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use roster_proto::api::{JoinPolicy, Role};
use serde::Deserialize;

/// The routes of the group form and deletion.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/groups/new", get(new_group).post(create_group))
        .route("/groups/{id}/settings", get(group_settings).post(update_group))
        .route("/groups/{id}/delete", post(delete_group))
}

/// The choices of `#group-form`'s join policy select, with their message keys.
const POLICIES: [(JoinPolicy, &str); 3] = [
    (JoinPolicy::InviteOnly, "admin-policy-open"),
    (JoinPolicy::Approval, "admin-policy-approval"),
    (JoinPolicy::OpenWithLink, "admin-policy-open-with-link"),
];

/// One `<option>` of the join policy select.
struct PolicyOption {
    value: &'static str,
    label: String,
    selected: bool,
}

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
    policies: Vec<PolicyOption>,
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
            marks,
            saved: false,
            can_delete: false,
            policies: POLICIES
                .iter()
                .map(|(policy, key)| PolicyOption {
                    value: policy_value(*policy),
                    label: page.t(key),
                    selected: form.join_policy == policy_value(*policy),
                })
                .collect(),
            form,
            page,
        }
    }

    /// The settings of an existing group; only its owner is offered deletion.
    fn settings(page: Page, limits: Limits, found: &GroupWithMembership, form: GroupForm, marks: Marks) -> Self {
        let mut this = Self::new(page, limits, form, marks);
        let group = GroupNav::of(&found.group);
        this.heading = this.page.t1("admin-settings-title", "group", group.name.clone());
        this.action = format!("/groups/{}/settings", group.id);
        this.submit = this.page.t("admin-group-save");
        this.can_delete = found.membership.role == Role::Owner;
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
    render(&GroupFormPage::new(page, Limits::of(&state), form, Marks::default()))
}

/// POST /groups/new — create the group, then show it.
async fn create_group(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    CsrfForm { form, .. }: CsrfForm<GroupForm>,
) -> Done {
    let limits = Limits::of(&state);
    let fields = match form.create_request() {
        Ok(request) => match state.roster.create_group(&caller, &request).await {
            Ok(created) => return Ok(see_other(&format!("/groups/{}", created.group.id))),
            Err(error) => form_fields(error)?,
        },
        Err(fields) => fields,
    };
    let marks = Marks::new(&page, &fields, limits);
    invalid(&GroupFormPage::new(page, limits, form, marks))
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
    Path(id): Path<String>,
    Query(query): Query<SettingsQuery>,
) -> Done {
    let limits = Limits::of(&state);
    let found = state.roster.admin_group(&caller, path_id(&id, "group")?).await?;
    let form = GroupForm::of(&found.group, limits.max_group_size);
    let mut view = GroupFormPage::settings(page, limits, &found, form, Marks::default());
    view.saved = query.saved.is_some();
    render(&view)
}

/// POST /groups/{id}/settings — save the group form (admins).
async fn update_group(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<GroupForm>,
) -> Done {
    let limits = Limits::of(&state);
    let id: GroupId = path_id(&id, "group")?;
    let found = state.roster.admin_group(&caller, id).await?;
    let fields = match form.update_request(limits.max_group_size) {
        Ok(request) => match state.roster.update_group(&caller, id, &request).await {
            Ok(_) => return Ok(see_other(&format!("/groups/{id}/settings?saved=1"))),
            Err(error) => form_fields(error)?,
        },
        Err(fields) => fields,
    };
    let marks = Marks::new(&page, &fields, limits);
    invalid(&GroupFormPage::settings(page, limits, &found, form, marks))
}

/// POST /groups/{id}/delete — delete the group once the box is ticked (owner).
async fn delete_group(
    State(state): State<AppState>,
    Signed { page, caller }: Signed,
    Path(id): Path<String>,
    CsrfForm { form, .. }: CsrfForm<DeleteForm>,
) -> Done {
    let id: GroupId = path_id(&id, "group")?;
    if form.confirm.is_some() {
        state.roster.delete_group(&caller, id).await?;
        return Ok(see_other("/groups"));
    }
    let limits = Limits::of(&state);
    let found = state.roster.admin_group(&caller, id).await?;
    let marks = Marks::new(&page, &[Field::DeleteConfirm], limits);
    let form = GroupForm::of(&found.group, limits.max_group_size);
    invalid(&GroupFormPage::settings(page, limits, &found, form, marks))
}

/// A form shown again with its errors marked.
fn invalid(view: &GroupFormPage) -> Done {
    render_status(StatusCode::UNPROCESSABLE_ENTITY, view)
}
