//! "Who can see my card": for each group where the caller is an active member, the fields of
//! their card the group receives and the members who receive them.
//!
//! It asks [`visible_card`] — the directory's own filter — once per receiving member, so this
//! answer and what every other member's directory shows cannot disagree. It decides nothing
//! about visibility itself.

use super::Roster;
use super::directory::visible_card;
use super::error::Result;
use super::group::neutral_label;
use super::ids::AccountId;
use super::model::{Group, MemberCard};
use super::share_policy::ShareFields;
use super::terminal::Caller;
use roster_proto::api::{CardField, CardView};

/// One member who receives the caller's card in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// The member.
    pub account_id: AccountId,
    /// Their display name, or a neutral label when they do not share their name with the group
    /// (as the member list shows them).
    pub display_name: String,
}

/// What one group receives of the caller's card.
#[derive(Debug, Clone)]
pub struct GroupAudience {
    /// The group.
    pub group: Group,
    /// The caller's share policy there.
    pub share: ShareFields,
    /// The fields the group receives: the policy, restricted to the fields the card has.
    pub fields: ShareFields,
    /// The card exactly as each receiver sees it (`None`: nothing is received).
    pub card: Option<CardView>,
    /// The active members, the caller excepted, who receive it, ordered by account id.
    pub receivers: Vec<Receiver>,
}

impl Roster {
    /// For each group where the caller is an active member: what of their card it receives and
    /// who receives it. Pending memberships receive nothing and are left out.
    pub async fn audience(&self, caller: &Caller) -> Result<Vec<GroupAudience>> {
        self.limits.read(caller.account.id)?;
        let me = caller.account.id;
        let mut audiences = Vec::new();
        for (group, membership) in self.store.groups_of(me).await? {
            if !membership.is_active() {
                continue;
            }
            // The caller's card as the directory engine reads it for this group.
            let subject = self
                .store
                .member_cards(group.id, &[me])
                .await?
                .into_iter()
                .find(|c| c.account_id == me)
                .unwrap_or(MemberCard {
                    account_id: me,
                    state: membership.state,
                    share: membership.share,
                    card: None,
                });
            let fields = received_fields(&subject);
            let mut card = None;
            let mut receivers = Vec::new();
            for row in self.store.members(group.id).await? {
                let Some(view) = visible_card(&row.membership, &subject) else {
                    continue;
                };
                card.get_or_insert(view);
                let account_id = row.membership.account_id;
                let display_name = if row.membership.share.contains(CardField::Name) {
                    row.display_name
                } else {
                    neutral_label(account_id)
                };
                receivers.push(Receiver {
                    account_id,
                    display_name,
                });
            }
            audiences.push(GroupAudience {
                group,
                share: subject.share,
                fields,
                card,
                receivers,
            });
        }
        Ok(audiences)
    }
}

/// The fields of the subject's card its share policy lets through, each checked with the same
/// card view the directory builds.
fn received_fields(subject: &MemberCard) -> ShareFields {
    let Some(card) = &subject.card else {
        return ShareFields::NONE;
    };
    ShareFields::of(
        &subject
            .share
            .fields()
            .into_iter()
            .filter(|field| card.view(ShareFields::of(&[*field])).is_some())
            .collect::<Vec<_>>(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::card::{Card, CardRules};
    use roster_proto::api::{CardInput, MembershipState, PhoneInput};

    fn subject(share: ShareFields, card: Option<Card>) -> MemberCard {
        MemberCard {
            account_id: AccountId::random(),
            state: MembershipState::Active,
            share,
            card,
        }
    }

    fn card(note: Option<&str>) -> Card {
        let rules = CardRules {
            region: "DE".parse().unwrap(),
            photo_max_bytes: 1024,
        };
        let input = CardInput {
            formatted_name: "Anna".into(),
            phones: vec![PhoneInput {
                number: "030 1234567".into(),
                kind: None,
            }],
            note: note.map(str::to_string),
            ..CardInput::default()
        };
        Card::parse(&input, &rules).unwrap()
    }

    #[test]
    fn received_fields_are_the_policy_on_the_fields_the_card_has() {
        let all = ShareFields::ALL;
        let name_note = ShareFields::of(&[CardField::Name, CardField::Note]);
        assert_eq!(received_fields(&subject(all, None)), ShareFields::NONE);
        assert_eq!(
            received_fields(&subject(all, Some(card(None)))),
            ShareFields::of(&[CardField::Name, CardField::Phones])
        );
        assert_eq!(
            received_fields(&subject(all, Some(card(Some("hi"))))),
            ShareFields::of(&[CardField::Name, CardField::Phones, CardField::Note])
        );
        assert_eq!(
            received_fields(&subject(name_note, Some(card(None)))),
            ShareFields::of(&[CardField::Name])
        );
        assert_eq!(
            received_fields(&subject(ShareFields::of(&[CardField::Emails]), Some(card(None)))),
            ShareFields::NONE
        );
    }
}
