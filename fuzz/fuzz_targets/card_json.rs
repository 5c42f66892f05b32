//! The JSON body of `PUT /api/v1/me/card` through the server's card validation. Beyond "never
//! panics": validation is idempotent, so a card the server accepted and hands back is accepted
//! again, unchanged, when a client saves it as it is.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_fuzz::{input_of, rules};
use roster_proto::api::CardInput;
use roster_server::domain::card::Card;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<CardInput>(data) else {
        return;
    };
    let rules = rules();
    let Ok(card) = Card::parse(&input, &rules) else {
        return;
    };
    match Card::parse(&input_of(&card), &rules) {
        Ok(again) => assert_eq!(again, card, "validating a stored card changed it"),
        Err(e) => panic!("the stored card {card:?} is refused when saved again: {e:?}"),
    }
});
