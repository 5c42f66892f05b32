//! Share policies: which of a member's card fields one group may see.

use roster_proto::api::CardField;

/// A set of card fields, stored as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ShareFields(u32);

const ALL_FIELDS: [CardField; 8] = [
    CardField::Name,
    CardField::Phones,
    CardField::Emails,
    CardField::Organization,
    CardField::Address,
    CardField::Birthday,
    CardField::Note,
    CardField::Photo,
];

fn bit(field: CardField) -> u32 {
    match field {
        CardField::Name => 1,
        CardField::Phones => 1 << 1,
        CardField::Emails => 1 << 2,
        CardField::Organization => 1 << 3,
        CardField::Address => 1 << 4,
        CardField::Birthday => 1 << 5,
        CardField::Note => 1 << 6,
        CardField::Photo => 1 << 7,
    }
}

impl ShareFields {
    /// No field.
    pub const NONE: ShareFields = ShareFields(0);
    /// Every field.
    pub const ALL: ShareFields = ShareFields(0xff);

    /// What a new membership shares: name and phones.
    pub fn default_policy() -> Self {
        Self::of(&[CardField::Name, CardField::Phones])
    }

    /// The set of the given fields.
    pub fn of(fields: &[CardField]) -> Self {
        ShareFields(fields.iter().fold(0, |mask, f| mask | bit(*f)))
    }

    /// Whether `field` is in the set.
    pub fn contains(self, field: CardField) -> bool {
        self.0 & bit(field) != 0
    }

    /// Whether the two sets share a field.
    pub fn intersects(self, other: ShareFields) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Adds one field.
    pub fn insert(&mut self, field: CardField) {
        self.0 |= bit(field);
    }

    /// The fields, in a fixed order.
    pub fn fields(self) -> Vec<CardField> {
        ALL_FIELDS.into_iter().filter(|f| self.contains(*f)).collect()
    }

    /// The mask as stored.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// Reads a stored mask; unknown bits are dropped.
    pub fn from_bits(bits: i64) -> Self {
        ShareFields((bits & 0xff) as u32)
    }
}

impl std::ops::BitOr for ShareFields {
    type Output = ShareFields;
    fn bitor(self, rhs: Self) -> Self {
        ShareFields(self.0 | rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_bits() {
        let fields = ShareFields::of(&[CardField::Phones, CardField::Photo]);
        assert_eq!(ShareFields::from_bits(fields.bits()), fields);
        assert_eq!(fields.fields(), vec![CardField::Phones, CardField::Photo]);
        assert!(ShareFields::default_policy().contains(CardField::Name));
        assert!(!ShareFields::default_policy().contains(CardField::Emails));
        assert_eq!(ShareFields::ALL.fields().len(), 8);
    }
}
