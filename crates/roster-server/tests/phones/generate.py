#!/usr/bin/env python3
"""Writes conformance.tsv: how libphonenumber reads phone numbers as people type them.

For every region libphonenumber supports, its example number of every type is written in
the notations people use (international with spaces, dashes or dots, compact E.164, the
international call prefix of the dialling region, national with trunk prefix, parentheses,
dots, bare digits, full-width digits, RFC 3966), and each notation is read under several
default regions (US, DE, CN, GB, IN, BR, KR, the number's own). Each row records what
libphonenumber answers: the E.164 number when it parses to a valid number, else `invalid`.
Roster's `E164::parse` must give the same answer for every row (tests/phones/mod.rs).

Regenerate after the `phonenumber` crate's metadata changes, with the Python port of the
same metadata version (the `+9.0.33` in the crate's version):

    python3 -m venv /tmp/pn && /tmp/pn/bin/pip install 'phonenumbers==9.0.33'
    /tmp/pn/bin/python crates/roster-server/tests/phones/generate.py > crates/roster-server/tests/phones/conformance.tsv
"""

import sys

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

TYPES = [
    ("fixed", PhoneNumberType.FIXED_LINE),
    ("mobile", PhoneNumberType.MOBILE),
    ("tollfree", PhoneNumberType.TOLL_FREE),
    ("premium", PhoneNumberType.PREMIUM_RATE),
    ("shared", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
]

DEFAULT_REGIONS = ["US", "DE", "CN", "GB", "IN", "BR", "KR"]

FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")


def parenthesised(national):
    """`030 1234567` -> `(030) 1234567`: the first group in parentheses."""
    head, sep, tail = national.partition(" ")
    if not sep or not head.isdigit():
        return None
    return f"({head}) {tail}"


def notations(number, own_region):
    """(name, text, region) for each way people write `number`."""
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    national_digits = "".join(c for c in national if c.isdigit())
    written = [
        ("intl", international, None),
        ("intl-dash", international.replace(" ", "-"), None),
        ("intl-dot", international.replace(" ", "."), None),
        ("e164", e164, None),
        ("rfc3966", phonenumbers.format_number(number, PhoneNumberFormat.RFC3966), None),
        ("intl-fullwidth", international.translate(FULL_WIDTH), None),
        ("national", national, own_region),
        ("national-dash", national.replace(" ", "-"), own_region),
        ("national-dot", national.replace(" ", "."), own_region),
        ("national-digits", national_digits, own_region),
        ("national-fullwidth", national.translate(FULL_WIDTH), own_region),
    ]
    bracketed = parenthesised(national)
    if bracketed:
        written.append(("national-paren", bracketed, own_region))
    return written


def read(text, region):
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return "invalid"
    if not phonenumbers.is_valid_number(number):
        return "invalid"
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def main():
    out = sys.stdout
    out.write(f"# libphonenumber {phonenumbers.__version__} (Python port); see generate.py\n")
    out.write("# One input per row; then the E.164 number (or `invalid`) libphonenumber reads under\n")
    out.write("# each default region, the last column under the number's own region.\n")
    out.write("\t".join(["region", "type", "notation", "input", *DEFAULT_REGIONS, "own"]) + "\n")
    seen = set()
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for type_name, kind in TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None or not phonenumbers.is_valid_number(example):
                continue
            written = [(notation, text) for notation, text, _ in notations(example, region)]
            # The international call prefix of each default region (00, 011, 0011, 8~10…),
            # as `format_out_of_country_calling_number` writes it when dialled from there.
            written += [
                ("idd-" + default, phonenumbers.format_out_of_country_calling_number(example, default))
                for default in DEFAULT_REGIONS
                if default != region
            ]
            for notation, text in written:
                if (region, text) in seen:
                    continue
                seen.add((region, text))
                answers = [read(text, default) for default in [*DEFAULT_REGIONS, region]]
                out.write("\t".join([region, type_name, notation, text, *answers]) + "\n")

if __name__ == "__main__":
    main()
