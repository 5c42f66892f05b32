//! Roster's patch: numbers that the 0.3.10 release read differently from libphonenumber (the
//! expected values are libphonenumber 9.0.33's). The full comparison, every region's example
//! numbers in many notations, is Roster's `tests/phones/mod.rs`.

use phonenumber::{country, Mode};

fn e164(region: country::Id, text: &str) -> Option<String> {
    let number = phonenumber::parse(Some(region), text).ok()?;
    phonenumber::is_valid(&number).then(|| number.format().mode(Mode::E164).to_string())
}

#[test]
fn a_country_code_keeps_every_digit_after_it_whatever_the_default_region() {
    for (region, text, expected) in [
        (country::US, "+49 1512 3456789", "+4915123456789"),
        (country::US, "+82 10 1234 5678", "+821012345678"),
        (country::US, "+86 131 2345 6789", "+8613123456789"),
        (country::US, "+880 1812-345678", "+8801812345678"),
        (country::US, "+358 18 1234567", "+358181234567"),
        (country::CN, "+55 11 91234 5678", "+5511912345678"),
        (country::CN, "+1 284-300-1234", "+12843001234"),
        (country::US, "011 82 10 1234 5678", "+821012345678"),
        (country::US, "1 310-1234", "+13101234"),
    ] {
        assert_eq!(e164(region, text).as_deref(), Some(expected), "{text} in {region:?}");
    }
}

#[test]
fn full_width_digits_are_digits() {
    assert_eq!(
        e164(country::DE, "０３０ １２３４５６７").as_deref(),
        Some("+49301234567")
    );
    assert_eq!(
        e164(country::US, "＋８６ １３１ ２３４５ ６７８９").as_deref(),
        Some("+8613123456789")
    );
}
