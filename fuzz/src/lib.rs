//! What the fuzz targets share: the server's card rules and the conversions between the wire
//! types that the round trips need. No target logic here; each lives in `fuzz_targets/`.

use roster_proto::api::{CardInput, CardView, Phone, PhoneInput, Photo};
use roster_server::domain::card::{Card, CardRules};

/// The card rules of a default configuration (region US, 256 KiB photos).
pub fn rules() -> CardRules {
    CardRules {
        region: Default::default(),
        photo_max_bytes: 256 * 1024,
    }
}

/// A validated card as the input that would store it again: what a client that read the card
/// and saved it unchanged would send.
pub fn input_of(card: &Card) -> CardInput {
    CardInput {
        formatted_name: card.formatted_name.clone(),
        name: card.name.clone(),
        phones: card
            .phones
            .iter()
            .map(|p| PhoneInput {
                number: p.number.as_str().to_string(),
                kind: Some(p.kind),
            })
            .collect(),
        emails: card.emails.clone(),
        organization: card.organization.clone(),
        title: card.title.clone(),
        address: card.address.clone(),
        birthday: card.birthday.clone(),
        note: card.note.clone(),
        photo: card.photo.as_ref().map(|p| p.data.clone()),
    }
}

/// An unvalidated card read from a vCard, as the view `vcard::write` renders, field for field.
/// A photo that is not a base64 `data:` URI is passed on as base64 of unknown type.
pub fn view_of(input: &CardInput) -> CardView {
    CardView {
        formatted_name: Some(input.formatted_name.clone()).filter(|n| !n.is_empty()),
        name: input.name.clone(),
        phones: input
            .phones
            .iter()
            .map(|p| Phone {
                number: p.number.clone(),
                kind: p.kind.unwrap_or_default(),
            })
            .collect(),
        emails: input.emails.clone(),
        organization: input.organization.clone(),
        title: input.title.clone(),
        address: input.address.clone(),
        birthday: input.birthday.clone(),
        note: input.note.clone(),
        photo: input.photo.as_ref().map(|photo| {
            let uri = photo.strip_prefix("data:").and_then(|uri| uri.split_once(";base64,"));
            match uri {
                Some((media_type, data)) => Photo {
                    media_type: media_type.to_string(),
                    data: data.to_string(),
                },
                None => Photo {
                    media_type: "image/jpeg".into(),
                    data: photo.clone(),
                },
            }
        }),
    }
}
