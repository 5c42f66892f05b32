//! Request bodies of PROPFIND, PROPPATCH, REPORT and WebDAV-Push `push-register`, through the
//! server's XML parsers. Each must answer (never panic) on any body, and a body that opens
//! with a DTD declaring an entity is refused by all four, whatever follows: no entity is ever
//! expanded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_server::http::carddav::xml::{parse_propfind, parse_proppatch, parse_push_register, parse_report};

fn parse_each(body: &str) -> [bool; 4] {
    [
        parse_propfind(body).is_ok(),
        parse_proppatch(body).is_ok(),
        parse_report(body).is_ok(),
        parse_push_register(body).is_ok(),
    ]
}

fuzz_target!(|data: &[u8]| {
    // The server refuses a body that is not UTF-8 before any parser sees it.
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    parse_each(body);
    let with_dtd = format!("<!DOCTYPE d [<!ENTITY e \"expanded\">]>{body}");
    assert_eq!(parse_each(&with_dtd), [false; 4], "a body with a DTD was accepted");
});
