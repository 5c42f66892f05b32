//! `Card::view`, the share-policy projection every door runs once per card it shows, on a
//! card with a ~100 KiB photo: for a viewer whose policy leaves the photo out (nothing of it
//! should be copied) and for one whose policy includes it (one copy, the price of showing it).
//!
//! Run: `cargo bench -p roster-server --bench card_view`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/card.rs"]
mod card;

use criterion::{Criterion, criterion_group, criterion_main};
use roster_proto::api::{CardField, CardInput, Email, PhoneInput, Photo};
use roster_server::domain::card::Card;
use roster_server::domain::share_policy::ShareFields;
use std::hint::black_box;

/// Size of the photo's base64 text: about what a 100 KiB JPEG becomes.
const PHOTO_BASE64_BYTES: usize = 100 * 1024 * 4 / 3;

/// A full card with a large photo, as it reads back from storage.
fn card_with_photo() -> Card {
    let mut card = card::parse_card(&CardInput {
        formatted_name: "Anna Schmidt".into(),
        phones: vec![PhoneInput {
            number: "+49 30 1234567".into(),
            kind: None,
        }],
        emails: vec![Email {
            address: "anna@example.org".into(),
            kind: Default::default(),
        }],
        organization: Some("School 3".into()),
        note: Some("Parents' evening on Thursdays.".into()),
        ..CardInput::default()
    });
    // Set directly, as storage hands it back: the photo's bytes do not matter here, only its
    // size (parsing would decode and re-encode a real image).
    card.photo = Some(Photo {
        media_type: "image/jpeg".into(),
        data: "A".repeat(PHOTO_BASE64_BYTES),
    });
    card
}

fn view(c: &mut Criterion) {
    let card = card_with_photo();
    let mut group = c.benchmark_group("card view, 100 KiB photo");
    let without_photo = ShareFields::default_policy();
    assert!(!without_photo.contains(CardField::Photo));
    group.bench_function("policy without the photo", |b| {
        b.iter(|| black_box(&card).view(black_box(without_photo)))
    });
    group.bench_function("policy with the photo", |b| {
        b.iter(|| black_box(&card).view(black_box(ShareFields::ALL)))
    });
    group.finish();
}

criterion_group!(benches, view);
criterion_main!(benches);
