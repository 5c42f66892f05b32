//! The admin pages' forms as the browser posts them, parsed into the domain's requests.
//!
//! Parsing here only turns text into numbers and choices ("parse, don't validate"); the
//! domain checks lengths and ranges, and its field errors come back through [`Field`].

use roster_proto::api::{CreateGroupRequest, CreateInviteRequest, JoinPolicy, Role, UpdateGroupRequest};
use serde::Deserialize;

const SECONDS_PER_DAY: u64 = 24 * 60 * 60;

/// A form field the admin pages can mark as wrong, next to its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// `#group-name`.
    Name,
    /// `#group-description`.
    Description,
    /// `#group-join-policy`.
    JoinPolicy,
    /// `#group-member-limit`.
    MemberLimit,
    /// `#group-delete-confirm`.
    DeleteConfirm,
    /// `#invite-expires-days`.
    ExpiresDays,
    /// `#invite-max-uses`.
    MaxUses,
}

impl Field {
    /// The field the domain names in an `Invalid` error, if a form shows it.
    pub(super) fn from_domain(name: &str) -> Option<Field> {
        Some(match name {
            "name" => Field::Name,
            "description" => Field::Description,
            "join_policy" => Field::JoinPolicy,
            "member_limit" => Field::MemberLimit,
            "expires_in" => Field::ExpiresDays,
            "max_uses" => Field::MaxUses,
            _ => return None,
        })
    }

    /// The id of the input the error belongs to (the message's id adds `-error`).
    pub(super) fn input_id(self) -> &'static str {
        match self {
            Field::Name => "group-name",
            Field::Description => "group-description",
            Field::JoinPolicy => "group-join-policy",
            Field::MemberLimit => "group-member-limit",
            Field::DeleteConfirm => "group-delete-confirm",
            Field::ExpiresDays => "invite-expires-days",
            Field::MaxUses => "invite-max-uses",
        }
    }
}

/// The value of a join policy in the `#group-join-policy` select.
pub(super) fn policy_value(policy: JoinPolicy) -> &'static str {
    match policy {
        JoinPolicy::InviteOnly => "open",
        JoinPolicy::Approval => "approval",
        JoinPolicy::OpenWithLink => "open_with_link",
    }
}

fn parse_policy(value: &str) -> Option<JoinPolicy> {
    [JoinPolicy::InviteOnly, JoinPolicy::Approval, JoinPolicy::OpenWithLink]
        .into_iter()
        .find(|policy| policy_value(*policy) == value.trim())
}

/// An optional whole number: empty is `None`, anything else must parse.
fn parse_optional<T: std::str::FromStr>(value: &str) -> Result<Option<T>, ()> {
    let value = value.trim();
    if value.is_empty() {
        Ok(None)
    } else {
        value.parse().map(Some).map_err(|_| ())
    }
}

/// `#group-form`, on `/groups/new` and `/groups/{id}/settings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct GroupForm {
    /// The group's name.
    pub(super) name: String,
    /// Its description.
    pub(super) description: String,
    /// `open`, `approval` or `open_with_link`.
    pub(super) join_policy: String,
    /// Empty for the server's limit.
    pub(super) member_limit: String,
}

impl GroupForm {
    /// The form filled with a group's current values.
    pub(super) fn of(group: &crate::domain::model::Group, server_limit: u32) -> Self {
        GroupForm {
            name: group.name.clone(),
            description: group.description.clone(),
            join_policy: policy_value(group.join_policy).to_string(),
            // The server's limit is what an empty field means: show it as empty.
            member_limit: if group.member_limit == server_limit {
                String::new()
            } else {
                group.member_limit.to_string()
            },
        }
    }

    /// The fields as a creation request, or the fields that are not even well-formed.
    pub(super) fn create_request(&self) -> Result<CreateGroupRequest, Vec<Field>> {
        let (join_policy, member_limit) = self.parse_choices()?;
        Ok(CreateGroupRequest {
            name: self.name.clone(),
            description: Some(self.description.clone()),
            join_policy: Some(join_policy),
            member_limit,
        })
    }

    /// The fields as an update request: every field is set, an empty limit resets it to the
    /// server's.
    pub(super) fn update_request(&self, server_limit: u32) -> Result<UpdateGroupRequest, Vec<Field>> {
        let (join_policy, member_limit) = self.parse_choices()?;
        Ok(UpdateGroupRequest {
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            join_policy: Some(join_policy),
            member_limit: Some(member_limit.unwrap_or(server_limit)),
        })
    }

    fn parse_choices(&self) -> Result<(JoinPolicy, Option<u32>), Vec<Field>> {
        let policy = parse_policy(&self.join_policy);
        let limit = parse_optional::<u32>(&self.member_limit);
        match (policy, limit) {
            (Some(policy), Ok(limit)) => Ok((policy, limit)),
            (policy, limit) => {
                let mut wrong = Vec::new();
                if policy.is_none() {
                    wrong.push(Field::JoinPolicy);
                }
                if limit.is_err() {
                    wrong.push(Field::MemberLimit);
                }
                Err(wrong)
            }
        }
    }
}

/// `#group-delete-form`: the checkbox must be ticked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct DeleteForm {
    /// Present (any value) when `#group-delete-confirm` is ticked.
    pub(super) confirm: Option<String>,
}

/// `#invite-form`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct InviteForm {
    /// Lifetime in whole days.
    pub(super) expires_days: String,
    /// Empty for no limit.
    pub(super) max_uses: String,
}

impl InviteForm {
    /// The fields as a request, or the fields that are not whole numbers.
    pub(super) fn request(&self) -> Result<CreateInviteRequest, Vec<Field>> {
        let days = parse_optional::<u64>(&self.expires_days);
        let uses = parse_optional::<u32>(&self.max_uses);
        match (days, uses) {
            (Ok(days), Ok(max_uses)) => Ok(CreateInviteRequest {
                // Zero days stays zero seconds, so that the domain refuses it.
                expires_in: days.map(|d| d.saturating_mul(SECONDS_PER_DAY)),
                max_uses,
            }),
            (days, uses) => {
                let mut wrong = Vec::new();
                if days.is_err() {
                    wrong.push(Field::ExpiresDays);
                }
                if uses.is_err() {
                    wrong.push(Field::MaxUses);
                }
                Err(wrong)
            }
        }
    }
}

/// Days in a lifetime, rounded down (the form speaks in days).
pub(super) fn whole_days(duration: std::time::Duration) -> u64 {
    duration.as_secs() / SECONDS_PER_DAY
}

/// A role change posted from a `.member-row`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct RoleForm {
    /// `member` or `admin`.
    pub(super) role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_form(policy: &str, limit: &str) -> GroupForm {
        GroupForm {
            name: "Class 4b".into(),
            description: String::new(),
            join_policy: policy.into(),
            member_limit: limit.into(),
        }
    }

    #[test]
    fn policies_round_trip_through_the_select() {
        for policy in [JoinPolicy::InviteOnly, JoinPolicy::Approval, JoinPolicy::OpenWithLink] {
            assert_eq!(parse_policy(policy_value(policy)), Some(policy));
        }
        assert_eq!(parse_policy("anyone"), None);
    }

    #[test]
    fn an_empty_limit_means_the_servers_and_garbage_is_marked() {
        let request = group_form("approval", " ").create_request().unwrap();
        assert_eq!(request.member_limit, None);
        assert_eq!(request.join_policy, Some(JoinPolicy::Approval));
        let update = group_form("open", "").update_request(500).unwrap();
        assert_eq!(update.member_limit, Some(500));
        assert_eq!(
            group_form("x", "ten").create_request().err(),
            Some(vec![Field::JoinPolicy, Field::MemberLimit])
        );
    }

    #[test]
    fn invite_days_become_seconds() {
        let form = InviteForm {
            expires_days: "2".into(),
            max_uses: String::new(),
        };
        let request = form.request().unwrap();
        assert_eq!(request.expires_in, Some(2 * SECONDS_PER_DAY));
        assert_eq!(request.max_uses, None);
        let bad = InviteForm {
            expires_days: "-1".into(),
            max_uses: "1.5".into(),
        };
        assert_eq!(bad.request().err(), Some(vec![Field::ExpiresDays, Field::MaxUses]));
    }

    #[test]
    fn domain_fields_map_to_inputs() {
        assert_eq!(
            Field::from_domain("expires_in").map(Field::input_id),
            Some("invite-expires-days")
        );
        assert_eq!(Field::from_domain("phones[0]"), None);
    }
}
