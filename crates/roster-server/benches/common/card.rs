//! Cards for the benchmarks, validated as a server on the test configuration would. A module
//! of its own so that a benchmark that seeds no group (card_view) can take just this.

use roster_proto::api::CardInput;
use roster_server::app::settings;
use roster_server::config::Config;
use roster_server::domain::card::Card;
use std::path::Path;

/// Validates a card as a server on the test configuration would.
pub(crate) fn parse_card(input: &CardInput) -> Card {
    // Only the card rules are read from it: no database is opened.
    let config = Config::for_tests(Path::new("unused"));
    Card::parse(input, &settings(&config, String::new()).card_rules).unwrap()
}
