//! Phone numbers: parsed with libphonenumber's metadata, kept in E.164.

use phonenumber::{Mode, country};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A valid phone number in E.164 form, e.g. `+49301234567`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct E164(String);

/// The region used for numbers written without a country code, e.g. `DE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl Default for Region {
    fn default() -> Self {
        Region(country::Id::US)
    }
}

impl FromStr for Region {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        country::Id::from_str(&s.trim().to_ascii_uppercase())
            .map(Region)
            .map_err(|_| format!("`{s}` is not an ISO 3166 region code such as DE or US"))
    }
}

impl E164 {
    /// Parses any common notation; numbers without `+` are read in `region`.
    pub fn parse(input: &str, region: Region) -> Result<Self, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("a phone number is required".into());
        }
        if trimmed.len() > 40 {
            return Err("a phone number has at most 40 characters".into());
        }
        let number =
            phonenumber::parse(Some(region.0), trimmed).map_err(|_| format!("`{trimmed}` is not a phone number"))?;
        if !phonenumber::is_valid(&number) {
            return Err(format!("`{trimmed}` is not a valid phone number"));
        }
        Ok(E164(number.format().mode(Mode::E164).to_string()))
    }

    /// The number as `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Keys under which a phone-prefix search finds this number: the E.164 digits and the
    /// national significant number (what follows the trunk prefix, e.g. `301234567`).
    pub fn search_keys(&self) -> Vec<String> {
        let digits = self.0.trim_start_matches('+').to_string();
        let mut keys = vec![digits];
        if let Ok(number) = phonenumber::parse(None, &self.0) {
            keys.push(number.national().value().to_string());
        }
        keys
    }

    /// Wraps an already-normalised number read back from storage.
    pub(crate) fn from_stored(s: String) -> Self {
        E164(s)
    }
}

impl std::fmt::Display for E164 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turns a search text into the digits to match against [`E164::search_keys`], or `None`
/// when the text is not a phone prefix. `+49 30`, `0049 30` → `4930`; `030 1` → `301`.
pub fn search_prefix(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || " +-()/.".contains(c)) {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let digits = if text.starts_with('+') {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix('0') {
        rest.to_string()
    } else {
        digits
    };
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn de() -> Region {
        "DE".parse().unwrap_or_else(|e: String| panic!("{e}"))
    }

    #[test]
    fn national_numbers_take_the_default_region() {
        assert_eq!(E164::parse("030 1234567", de()).map(|p| p.0), Ok("+49301234567".into()));
        assert_eq!(
            E164::parse("+1 (202) 456-1111", de()).map(|p| p.0),
            Ok("+12024561111".into())
        );
        assert_eq!(
            E164::parse("0049 30 1234567", de()).map(|p| p.0),
            Ok("+49301234567".into())
        );
    }

    #[test]
    fn rejects_what_is_not_a_valid_number() {
        for bad in [
            "",
            "  ",
            "hello",
            "123",
            "+99 123",
            "0000000000000000000000000000000000000000000",
        ] {
            assert!(E164::parse(bad, de()).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn search_keys_cover_international_and_national_prefixes() {
        let phone = E164::parse("030 1234567", de()).unwrap_or_else(|e| panic!("{e}"));
        let keys = phone.search_keys();
        assert!(keys.contains(&"49301234567".to_string()));
        assert!(keys.contains(&"301234567".to_string()));
        assert_eq!(search_prefix("+49 30"), Some("4930".into()));
        assert_eq!(search_prefix("030 12"), Some("3012".into()));
        assert_eq!(search_prefix("Anna"), None);
    }

    #[test]
    fn regions_are_checked() {
        assert!("de".parse::<Region>().is_ok());
        assert!("XX".parse::<Region>().is_err());
    }

    proptest! {
        // Whatever the notation of a valid number, parsing is idempotent: the E.164 form
        // parses to itself.
        #[test]
        fn e164_is_a_fixed_point(area in 30u32..=89, local in 1_000_000u32..9_999_999) {
            let written = format!("0{area} {local}");
            if let Ok(phone) = E164::parse(&written, de()) {
                let again = E164::parse(phone.as_str(), de());
                prop_assert_eq!(again, Ok(phone));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,60}") {
            let _ = E164::parse(&text, de());
            let _ = search_prefix(&text);
        }
    }
}
