//! The directory: what one member sees of one group, page by page and searched.
//!
//! [`visible_card`] is the only place where the share policy and membership states decide
//! what of a card reaches a viewer. Every door — JSON, WebSocket, CardDAV, web pages — reads
//! whole directories through [`Roster::directory`] (or books built on [`visible_card`]), and
//! changes since a cursor through the sync engine in [`super::sync`].

use super::error::{Error, Result};
use super::ids::{AccountId, GroupId};
use super::model::{DirectorySearch, MemberCard, Membership};
use super::phone::Region;
use super::terminal::Caller;
use super::{Roster, phone};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roster_proto::api::{CardView, MembershipState};
use uuid::Uuid;

/// Default directory page size.
pub const DEFAULT_PAGE: u32 = 100;
/// Largest directory page.
pub const MAX_PAGE: u32 = 1000;

/// What of `subject`'s card `viewer` may see: nothing unless both are active members of the
/// group and they are different people; then the fields the subject's share policy grants.
pub fn visible_card(viewer: &Membership, subject: &MemberCard) -> Option<CardView> {
    if !viewer.is_active() || subject.state != MembershipState::Active || subject.account_id == viewer.account_id {
        return None;
    }
    subject.card.as_ref()?.view(subject.share)
}

/// One page of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Visible cards, by account id.
    pub entries: Vec<(AccountId, CardView)>,
    /// Where the next page starts, if there is one.
    pub next: Option<AccountId>,
    /// The group's version before the page was read.
    pub version: i64,
}

/// Encodes a directory page cursor.
pub fn encode_cursor(after: AccountId) -> String {
    URL_SAFE_NO_PAD.encode(after.0.as_bytes())
}

/// Decodes a directory page cursor.
pub fn decode_cursor(cursor: &str) -> Result<AccountId> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .map(AccountId)
        .ok_or_else(|| Error::invalid("cursor", "not a cursor from a previous page"))
}

fn search_filter(text: Option<&str>, region: Region) -> Result<DirectorySearch> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(DirectorySearch::All);
    };
    if text.chars().count() > 100 {
        return Err(Error::invalid("q", "at most 100 characters"));
    }
    Ok(match phone::search_prefixes(text, region) {
        Some(prefixes) => DirectorySearch::PhonePrefixes(prefixes),
        None => DirectorySearch::Name(text.to_lowercase()),
    })
}

/// Whether a visible card matches the search on what the viewer can see.
fn matches(search: &DirectorySearch, card: &CardView) -> bool {
    match search {
        DirectorySearch::All => true,
        DirectorySearch::Name(text) => {
            let name = card.formatted_name.as_deref().unwrap_or_default().to_lowercase();
            let parts = card
                .name
                .as_ref()
                .map(|n| format!("{} {} {}", n.given, n.family, n.additional).to_lowercase())
                .unwrap_or_default();
            name.contains(text.as_str()) || parts.contains(text.as_str())
        }
        DirectorySearch::PhonePrefixes(prefixes) => card.phones.iter().any(|p| {
            super::phone::E164::from_stored(p.number.clone())
                .search_keys()
                .iter()
                .any(|k| prefixes.iter().any(|prefix| k.starts_with(prefix.as_str())))
        }),
    }
}

impl Roster {
    /// A page of the caller's directory of a group, optionally searched by name or phone
    /// prefix (only on fields the caller may see).
    pub async fn directory(
        &self,
        caller: &Caller,
        group: GroupId,
        cursor: Option<&str>,
        limit: Option<u32>,
        query: Option<&str>,
    ) -> Result<Page> {
        let viewer = self.active_membership(caller, group).await?;
        self.limits.read(caller.account.id)?;
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(Error::invalid("limit", format!("1 to {MAX_PAGE}")));
        }
        let after = cursor.map(decode_cursor).transpose()?;
        let search = search_filter(query, self.settings.card_rules.region)?;
        self.directory_for(&viewer, after, limit, Some(&search)).await
    }

    /// A directory page for an already authorised viewer membership.
    pub(crate) async fn directory_for(
        &self,
        viewer: &Membership,
        mut after: Option<AccountId>,
        limit: u32,
        search: Option<&DirectorySearch>,
    ) -> Result<Page> {
        let search = search.unwrap_or(&DirectorySearch::All);
        let group = viewer.group_id;
        let version = self.store.group(group).await?.ok_or(Error::NotFound("group"))?.version;
        let mut entries = Vec::new();
        // Members without a visible card (or matching only on hidden fields) are skipped, so
        // read on until the page is full or the group is exhausted. A full page has a next
        // cursor only if another visible match follows: whether there is a next page must
        // not tell that someone's hidden fields match the search.
        let mut last_entry: Option<AccountId> = None;
        loop {
            let batch = self
                .store
                .directory_page(group, viewer.account_id, after, limit, search)
                .await?;
            let exhausted = batch.len() < limit as usize;
            for subject in &batch {
                after = Some(subject.account_id);
                if let Some(card) = visible_card(viewer, subject).filter(|c| matches(search, c)) {
                    if entries.len() == limit as usize {
                        return Ok(Page {
                            entries,
                            next: last_entry,
                            version,
                        });
                    }
                    last_entry = Some(subject.account_id);
                    entries.push((subject.account_id, card));
                }
            }
            if exhausted {
                return Ok(Page {
                    entries,
                    next: None,
                    version,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::card::{Card, CardRules};
    use crate::domain::share_policy::ShareFields;
    use roster_proto::api::{CardField, CardInput, PhoneInput, Role};

    fn membership(account: AccountId, state: MembershipState) -> Membership {
        Membership {
            group_id: GroupId::random(),
            account_id: account,
            role: Role::Member,
            state,
            share: ShareFields::default_policy(),
            since: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn card() -> Card {
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
            note: Some("private".into()),
            ..CardInput::default()
        };
        Card::parse(&input, &rules).unwrap()
    }

    const STATES: [MembershipState; 4] = [
        MembershipState::Pending,
        MembershipState::Active,
        MembershipState::Left,
        MembershipState::Removed,
    ];

    /// The privacy matrix: a card reaches a viewer only when both are active, and only the
    /// fields the owner shares.
    #[test]
    fn visibility_matrix() {
        let policies = [
            ShareFields::NONE,
            ShareFields::of(&[CardField::Phones]),
            ShareFields::default_policy(),
            ShareFields::of(&[CardField::Name, CardField::Note]),
            ShareFields::ALL,
        ];
        for viewer_state in STATES {
            for subject_state in STATES {
                for share in policies {
                    let viewer = membership(AccountId::random(), viewer_state);
                    let subject = MemberCard {
                        account_id: AccountId::random(),
                        state: subject_state,
                        share,
                        card: Some(card()),
                    };
                    let seen = visible_card(&viewer, &subject);
                    let both_active =
                        viewer_state == MembershipState::Active && subject_state == MembershipState::Active;
                    if !both_active || share.is_empty() {
                        assert_eq!(
                            seen, None,
                            "{viewer_state:?} viewer, {subject_state:?} subject, {share:?}"
                        );
                        continue;
                    }
                    let seen = seen.unwrap();
                    assert_eq!(seen.formatted_name.is_some(), share.contains(CardField::Name));
                    assert_eq!(!seen.phones.is_empty(), share.contains(CardField::Phones));
                    assert_eq!(seen.note.is_some(), share.contains(CardField::Note));
                }
            }
        }
    }

    #[test]
    fn nobody_sees_themselves_or_a_missing_card() {
        let me = AccountId::random();
        let viewer = membership(me, MembershipState::Active);
        let myself = MemberCard {
            account_id: me,
            state: MembershipState::Active,
            share: ShareFields::ALL,
            card: Some(card()),
        };
        assert_eq!(visible_card(&viewer, &myself), None);
        let no_card = MemberCard {
            account_id: AccountId::random(),
            card: None,
            ..myself
        };
        assert_eq!(visible_card(&viewer, &no_card), None);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let id = AccountId::random();
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        assert!(decode_cursor("not a cursor!").is_err());
    }

    #[test]
    fn search_matches_only_visible_fields() {
        let view = card().view(ShareFields::of(&[CardField::Phones])).unwrap();
        assert!(!matches(&DirectorySearch::Name("anna".into()), &view));
        assert!(matches(&DirectorySearch::PhonePrefixes(vec!["4930".into()]), &view));
        assert!(matches(&DirectorySearch::PhonePrefixes(vec!["301".into()]), &view));
        assert!(!matches(&DirectorySearch::PhonePrefixes(vec!["4940".into()]), &view));
    }
}
