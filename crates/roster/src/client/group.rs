//! `group …`: create, list, show, invite, join, requests, approve, deny, leave, remove, share.
//! Groups and members are named by id or by name (case-insensitive), whichever is handier.

use super::Context;
use super::output::{DIM, GOOD, NOTE, STRONG, styled};
use clap::Subcommand;
use roster_client::http::invite_code;
use roster_client::{Client, Error};
use roster_proto::api::{
    CardField, CreateGroupRequest, CreateInviteRequest, GroupView, JoinPolicy, MemberView, MembershipState, SharePolicy,
};
use uuid::Uuid;

/// `roster group …`
#[derive(Debug, Subcommand)]
pub(crate) enum GroupCommand {
    /// Create a group that I own.
    Create {
        /// The group's name.
        name: String,
        /// What the group is.
        #[arg(long)]
        description: Option<String>,
        /// How people join: invite-only (admins invite, a link joins at once), approval (a link
        /// files a request an admin approves) or open-with-link (any member invites).
        #[arg(long, value_parser = wire_name::<JoinPolicy>, default_value = "invite-only")]
        policy: JoinPolicy,
        /// Most active members allowed.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// List my groups (active, and pending requests).
    List,
    /// Show a group and its members.
    Show {
        /// Group id or name.
        group: String,
    },
    /// Create an invite link and print it.
    Invite {
        /// Group id or name.
        group: String,
        /// Days until the link expires [server default: 7].
        #[arg(long)]
        days: Option<u64>,
        /// How many people may use the link [default: unlimited].
        #[arg(long)]
        max_uses: Option<u32>,
        /// Also print the link as a QR code.
        #[arg(long)]
        qr: bool,
    },
    /// Join a group with an invite link (or its code).
    Join {
        /// The link, e.g. https://roster.example.org/join/CODE
        link: String,
    },
    /// List the requests waiting for approval (admins).
    Requests {
        /// Group id or name.
        group: String,
    },
    /// Approve a join request (admins).
    Approve {
        /// Group id or name.
        group: String,
        /// Member id or display name.
        member: String,
    },
    /// Deny a join request (admins).
    Deny {
        /// Group id or name.
        group: String,
        /// Member id or display name.
        member: String,
    },
    /// Leave a group (or withdraw a request). Its cards leave the address book at the next sync.
    Leave {
        /// Group id or name.
        group: String,
    },
    /// Remove a member (admins).
    Remove {
        /// Group id or name.
        group: String,
        /// Member id or display name.
        member: String,
    },
    /// Show or set which fields of my card a group sees.
    Share {
        /// Group id or name.
        group: String,
        /// The fields the group may see, comma-separated, from: name, phones, emails,
        /// organization, address, birthday, note, photo. Without it: show them.
        #[arg(long, value_parser = wire_name::<CardField>, value_delimiter = ',')]
        fields: Option<Vec<CardField>>,
    },
}

/// Parses a wire enum from its JSON name (`invite_only`, `phones`…), also written with `-`.
fn wire_name<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let name = text.trim().to_lowercase().replace('-', "_");
    serde_json::from_value(serde_json::Value::String(name)).map_err(|_| format!("`{text}` is not one of them"))
}

/// Runs a group command.
pub(crate) async fn run(cx: &Context, command: GroupCommand) -> anyhow::Result<()> {
    let (client, _) = cx.client()?;
    match command {
        GroupCommand::Create {
            name,
            description,
            policy,
            limit,
        } => {
            let group = client
                .create_group(&CreateGroupRequest {
                    name,
                    description,
                    join_policy: Some(policy),
                    member_limit: limit,
                })
                .await?;
            cx.out.show(&group, || {
                anstream::println!(
                    "{} {}  {}",
                    styled(GOOD, "Created"),
                    styled(STRONG, &group.name),
                    styled(DIM, group.id)
                );
            })
        }
        GroupCommand::List => {
            let groups = client.groups().await?;
            cx.out.show(&groups, || {
                for g in &groups {
                    let pending = if g.state == MembershipState::Pending {
                        styled(NOTE, " (request pending)")
                    } else {
                        String::new()
                    };
                    anstream::println!(
                        "{}  {}{pending}  {} members, {:?}  {}",
                        styled(DIM, g.id),
                        styled(STRONG, &g.name),
                        g.member_count,
                        g.role,
                        g.description
                    );
                }
            })
        }
        GroupCommand::Show { group } => {
            let group = resolve_group(&client, &group).await?;
            let members = client.members(group.id).await?;
            let value = serde_json::json!({"group": group, "members": members});
            cx.out.show(&value, || {
                anstream::println!("{}  {}", styled(STRONG, &group.name), styled(DIM, group.id));
                if !group.description.is_empty() {
                    anstream::println!("{}", group.description);
                }
                anstream::println!(
                    "{:?}, {} of at most {} members, you are {:?}",
                    group.join_policy,
                    group.member_count,
                    group.member_limit,
                    group.role
                );
                print_members(&members);
            })
        }
        GroupCommand::Invite {
            group,
            days,
            max_uses,
            qr,
        } => {
            let group = resolve_group(&client, &group).await?;
            let invite = client
                .create_invite(
                    group.id,
                    &CreateInviteRequest {
                        expires_in: days.map(|d| d.saturating_mul(86_400)),
                        max_uses,
                    },
                )
                .await?;
            let link = invite.url.clone().or(invite.code.clone()).unwrap_or_default();
            if qr && !cx.out.json() {
                anstream::println!("{}", qr_code(&link)?);
            }
            cx.out.show(&invite, || {
                anstream::println!("{link}");
                anstream::eprintln!(
                    "{}",
                    styled(
                        DIM,
                        format!("valid until {}; join with: roster group join LINK", invite.expires_at)
                    )
                );
            })
        }
        GroupCommand::Join { link } => {
            let joined = client.accept_invite(invite_code(&link)).await?;
            cx.out.show(&joined, || {
                if joined.state == MembershipState::Pending {
                    anstream::println!(
                        "Asked to join {}: an admin must approve",
                        styled(STRONG, &joined.group_name)
                    );
                } else {
                    anstream::println!("{} {}", styled(GOOD, "Joined"), styled(STRONG, &joined.group_name));
                }
            })
        }
        GroupCommand::Requests { group } => {
            let group = resolve_group(&client, &group).await?;
            let pending: Vec<MemberView> = client
                .members(group.id)
                .await?
                .into_iter()
                .filter(|m| m.state == MembershipState::Pending)
                .collect();
            cx.out.show(&pending, || {
                if pending.is_empty() {
                    anstream::println!("No requests waiting");
                }
                print_members(&pending);
            })
        }
        GroupCommand::Approve { group, member } => {
            let group = resolve_group(&client, &group).await?;
            let member = resolve_member(&client, &group, &member).await?;
            client.approve(group.id, member.account_id).await?;
            done(cx, "approved", &group, &member)
        }
        GroupCommand::Deny { group, member } => {
            let group = resolve_group(&client, &group).await?;
            let member = resolve_member(&client, &group, &member).await?;
            client.deny(group.id, member.account_id).await?;
            done(cx, "denied", &group, &member)
        }
        GroupCommand::Remove { group, member } => {
            let group = resolve_group(&client, &group).await?;
            let member = resolve_member(&client, &group, &member).await?;
            client.remove_member(group.id, member.account_id).await?;
            done(cx, "removed", &group, &member)
        }
        GroupCommand::Leave { group } => {
            let group = resolve_group(&client, &group).await?;
            client.leave(group.id).await?;
            cx.out.show(&serde_json::json!({"left": group.id}), || {
                anstream::println!("Left {}", styled(STRONG, &group.name));
            })
        }
        GroupCommand::Share { group, fields } => {
            let group = resolve_group(&client, &group).await?;
            let policy = match fields {
                Some(fields) => {
                    let policy = SharePolicy { fields };
                    client.set_share_policy(group.id, &policy).await?
                }
                None => client.share_policy(group.id).await?,
            };
            cx.out.show(&policy, || {
                let names: Vec<String> = policy.fields.iter().map(|f| format!("{f:?}").to_lowercase()).collect();
                anstream::println!("{} sees: {}", styled(STRONG, &group.name), names.join(", "));
            })
        }
    }
}

fn done(cx: &Context, what: &str, group: &GroupView, member: &MemberView) -> anyhow::Result<()> {
    let value = serde_json::json!({what: member.account_id, "group": group.id});
    cx.out.show(&value, || {
        anstream::println!("{} {what} in {}", styled(STRONG, &member.display_name), group.name);
    })
}

fn print_members(members: &[MemberView]) {
    for m in members {
        anstream::println!(
            "  {}  {}  {:?} {:?} since {}",
            styled(DIM, m.account_id),
            styled(STRONG, &m.display_name),
            m.role,
            m.state,
            m.since
        );
    }
}

/// A group named by id or by name among my groups.
async fn resolve_group(client: &Client, text: &str) -> Result<GroupView, Error> {
    if let Ok(id) = text.parse::<Uuid>() {
        return client.group(id).await;
    }
    let mut found: Vec<GroupView> = client
        .groups()
        .await?
        .into_iter()
        .filter(|g| g.name.eq_ignore_ascii_case(text.trim()))
        .collect();
    match found.len() {
        0 => Err(Error::NotFound(format!("you have no group named `{text}`"))),
        1 => Ok(found.remove(0)),
        _ => Err(Error::Usage(format!("several groups are named `{text}`: use its id"))),
    }
}

/// A member named by account id or display name.
async fn resolve_member(client: &Client, group: &GroupView, text: &str) -> Result<MemberView, Error> {
    let members = client.members(group.id).await?;
    let id = text.parse::<Uuid>().ok();
    let mut found: Vec<MemberView> = members
        .into_iter()
        .filter(|m| Some(m.account_id) == id || m.display_name.eq_ignore_ascii_case(text.trim()))
        .collect();
    match found.len() {
        0 => Err(Error::NotFound(format!("{} has no member `{text}`", group.name))),
        1 => Ok(found.remove(0)),
        _ => Err(Error::Usage(format!("several members are named `{text}`: use the id"))),
    }
}

/// The link as a QR code of half-height blocks, light on dark so that it scans from a
/// terminal with a dark background.
fn qr_code(link: &str) -> Result<String, Error> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(link.as_bytes()).map_err(|e| Error::Usage(format!("cannot draw a QR code: {e}")))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_parse_with_dashes_or_underscores() {
        assert_eq!(wire_name::<JoinPolicy>("open-with-link"), Ok(JoinPolicy::OpenWithLink));
        assert_eq!(wire_name::<CardField>("Phones"), Ok(CardField::Phones));
        assert!(wire_name::<CardField>("shoe_size").is_err());
    }

    #[test]
    fn a_qr_code_is_square_blocks() {
        let code = qr_code("http://127.0.0.1:8080/join/abc").unwrap_or_default();
        let lines: Vec<&str> = code.lines().collect();
        assert!(lines.len() > 10, "{code}");
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == width));
    }
}
