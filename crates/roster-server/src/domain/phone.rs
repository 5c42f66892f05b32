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

impl std::fmt::Display for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

/// Longest phone number text accepted, in characters (the longest notation of a valid number
/// is about 25).
const MAX_TYPED: usize = 40;

impl E164 {
    /// Parses any notation people type, exactly as libphonenumber does: `+CC …`, the default
    /// region's international call prefix (`00…`, `011…`), national notation with trunk prefix
    /// (`030 1234567`), spaces, dashes, dots, parentheses and digits of any script. Numbers
    /// without a country code are read in `region`.
    ///
    /// This is the one place where Roster reads a phone number: the JSON API, CardDAV, the CLI
    /// and the web pages all come through here. The `phonenumber` crate is the patched copy in
    /// `vendor/phonenumber` (its release reads many numbers differently from libphonenumber).
    pub fn parse(input: &str, region: Region) -> Result<Self, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("a phone number is required".into());
        }
        if trimmed.chars().count() > MAX_TYPED {
            return Err(format!("a phone number has at most {MAX_TYPED} characters"));
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

    /// The number in international notation with spaces, as people read it
    /// (`+49 30 1234567`); E.164 if the metadata has no format for it.
    pub fn international(&self) -> String {
        phonenumber::parse(None, &self.0)
            .map(|n| n.format().mode(Mode::International).to_string())
            .unwrap_or_else(|_| self.0.clone())
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

/// The ASCII digit of a decimal digit of any common script (`０`, `٣`, `५`…), as libphonenumber
/// reads them.
fn ascii_digit(c: char) -> Option<char> {
    // The zero of each block of ten decimal digits people type numbers in: ASCII, Arabic-Indic,
    // Extended Arabic-Indic, NKo, Devanagari, Bengali, Gurmukhi, Gujarati, Oriya, Tamil, Telugu,
    // Kannada, Malayalam, Thai, Lao, Tibetan, Myanmar, Khmer, Mongolian, full-width.
    const ZEROS: [u32; 20] = [
        0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xE50, 0xED0, 0xF20,
        0x1040, 0x17E0, 0x1810, 0xFF10,
    ];
    let code = u32::from(c);
    ZEROS
        .iter()
        .find(|zero| (**zero..**zero + 10).contains(&code))
        .and_then(|zero| char::from_digit(code - zero, 10))
}

/// Punctuation that people type between the digits of a phone number (ASCII and full-width
/// spaces, dashes, dots, slashes and parentheses).
fn phone_punctuation(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' | '\u{2010}'
            ..='\u{2015}' | '\u{2212}' | '\u{3000}' | '\u{ff08}' | '\u{ff09}' | '\u{ff0d}' | '\u{ff0e}' | '\u{ff0f}'
    )
}

/// Turns a search text into the digit prefixes to match against [`E164::search_keys`], or
/// `None` when the text is not (the start of) a phone number. A whole number in any notation
/// that [`E164::parse`] reads in `region` finds exactly that number; a partial one is tried
/// after `+`, after the region's (or the common `00`) international call prefix, after its
/// trunk prefix (or `0`), and as typed. `+49 30`, `0049 30` → `4930`; `030 1` → `301`.
pub fn search_prefixes(text: &str, region: Region) -> Option<Vec<String>> {
    let text = text.trim();
    // A `tel:` URI (RFC 3966), as copied from a web page or a vCard 4.0.
    let number = match text.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => &text[4..],
        _ => text,
    };
    let (mut digits, mut plus) = (String::new(), false);
    for c in number.chars() {
        match (ascii_digit(c), c) {
            (Some(d), _) => digits.push(d),
            (None, '+' | '\u{ff0b}') if digits.is_empty() && !plus => plus = true,
            (None, c) if phone_punctuation(c) => {}
            _ => return None,
        }
    }
    if digits.is_empty() {
        return None;
    }
    let mut prefixes = Vec::new();
    if let Ok(number) = E164::parse(text, region) {
        prefixes.push(number.0.trim_start_matches('+').to_string());
    }
    if plus {
        prefixes.push(digits);
    } else {
        let meta = phonenumber::metadata::DATABASE.by_id(region.0.as_ref());
        let idd = meta
            .and_then(|m| m.international_prefix())
            .and_then(|re| re.find(&digits))
            .filter(|m| m.start() == 0)
            .map(|m| m.end());
        if let Some(end) = idd {
            prefixes.push(digits[end..].to_string());
        }
        if let Some(rest) = meta
            .and_then(|m| m.national_prefix())
            .and_then(|prefix| digits.strip_prefix(prefix))
        {
            prefixes.push(rest.to_string());
        }
        if let Some(rest) = digits.strip_prefix("00") {
            prefixes.push(rest.to_string());
        } else if let Some(rest) = digits.strip_prefix('0') {
            prefixes.push(rest.to_string());
        }
        prefixes.push(digits);
    }
    let mut unique: Vec<String> = Vec::new();
    for prefix in prefixes {
        if !prefix.is_empty() && !unique.contains(&prefix) {
            unique.push(prefix);
        }
    }
    (!unique.is_empty()).then_some(unique)
}

/// Every region with its country calling code (`("DE", 49)`), sorted by region code: the
/// choices of a country picker. Non-geographic entities (`001`) are left out.
pub fn regions() -> Vec<(String, u16)> {
    let mut regions: Vec<(String, u16)> = phonenumber::metadata::DATABASE
        .iter()
        .filter(|m| m.id().len() == 2 && m.id().chars().all(|c| c.is_ascii_uppercase()))
        .map(|m| (m.id().to_string(), m.country_code()))
        .collect();
    regions.sort();
    regions.dedup();
    regions
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
        let first = |text: &str| search_prefixes(text, de()).and_then(|p| p.into_iter().next());
        assert_eq!(first("+49 30"), Some("4930".into()));
        assert_eq!(first("030 12"), Some("3012".into()));
        assert_eq!(first("Anna"), None);
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
            let _ = search_prefixes(&text, de());
        }
    }
}
