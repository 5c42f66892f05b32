//! One person's card as a book shows it: the views of the card through each shared group
//! merged field by field, with the groups' names as categories and a strong entity tag.

use super::BookCard;
use crate::domain::directory::visible_card;
use crate::domain::ids::AccountId;
use crate::domain::model::{Group, MemberCard, Membership};
use roster_proto::api::CardView;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Strong entity tag of a card as a book shows it.
fn etag_of(card: &CardView, categories: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(serde_json::to_vec(&(card, categories)).unwrap_or_default());
    let digest = hash.finalize();
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Merges two views of the same card seen through different groups: each field is visible
/// if either group shows it. Both views are projections of one card, so a field is either
/// whole or absent in each.
fn merge(into: &mut CardView, other: CardView) {
    let CardView {
        formatted_name,
        name,
        phones,
        emails,
        organization,
        title,
        address,
        birthday,
        note,
        photo,
    } = other;
    into.formatted_name = into.formatted_name.take().or(formatted_name);
    into.name = into.name.take().or(name);
    if into.phones.is_empty() {
        into.phones = phones;
    }
    if into.emails.is_empty() {
        into.emails = emails;
    }
    into.organization = into.organization.take().or(organization);
    into.title = into.title.take().or(title);
    into.address = into.address.take().or(address);
    into.birthday = into.birthday.take().or(birthday);
    into.note = into.note.take().or(note);
    into.photo = into.photo.take().or(photo);
}

/// Accumulates the merged view of people across the groups of a scope.
#[derive(Default)]
pub(super) struct Merged(HashMap<AccountId, (CardView, Vec<String>)>);

impl Merged {
    pub(super) fn add(&mut self, viewer: &Membership, group: &Group, subject: &MemberCard, categories: bool) {
        let Some(view) = visible_card(viewer, subject) else {
            return;
        };
        let (card, names) = self.0.entry(subject.account_id).or_default();
        merge(card, view);
        if categories {
            names.push(group.name.clone());
        }
    }

    pub(super) fn take(&mut self, subject: AccountId) -> Option<BookCard> {
        self.0
            .remove(&subject)
            .map(|(card, categories)| book_card(subject, card, categories))
    }

    pub(super) fn into_sorted(self) -> Vec<BookCard> {
        let mut cards: Vec<BookCard> = self
            .0
            .into_iter()
            .map(|(subject, (card, categories))| book_card(subject, card, categories))
            .collect();
        cards.sort_by_key(|c| c.subject);
        cards
    }
}

fn book_card(subject: AccountId, card: CardView, mut categories: Vec<String>) -> BookCard {
    categories.sort();
    categories.dedup();
    let etag = etag_of(&card, &categories);
    BookCard {
        subject,
        card,
        categories,
        etag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_proto::api::{Phone, PhoneKind};

    #[test]
    fn merging_views_keeps_every_field_any_group_shows() {
        let phone = Phone {
            number: "+49301234567".into(),
            kind: PhoneKind::default(),
        };
        let mut names_only = CardView {
            formatted_name: Some("Anna".into()),
            ..CardView::default()
        };
        let phones_only = CardView {
            phones: vec![phone.clone()],
            note: Some("hello".into()),
            ..CardView::default()
        };
        merge(&mut names_only, phones_only);
        assert_eq!(names_only.formatted_name.as_deref(), Some("Anna"));
        assert_eq!(names_only.phones, vec![phone]);
        assert_eq!(names_only.note.as_deref(), Some("hello"));
    }

    #[test]
    fn etags_follow_content_and_categories() {
        let card = CardView {
            formatted_name: Some("Anna".into()),
            ..CardView::default()
        };
        let a = etag_of(&card, &["Choir".into()]);
        assert_eq!(a, etag_of(&card, &["Choir".into()]));
        assert_ne!(a, etag_of(&card, &["Choir".into(), "Club".into()]));
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
