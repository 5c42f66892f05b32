//! Checks of stored data against today's rules, run when the server starts (and by
//! `roster doctor`): every stored phone number is read again from the text its owner typed,
//! so that a fix of the phone metadata or of the parser reaches numbers stored before it.
//!
//! A corrected card is stored like any other card write — one change appended to every group
//! that sees phones — so every terminal receives the corrected number. It must not guess:
//! a number stored without its typed text is only reported when it is no longer valid.

use super::card::Card;
use super::error::Result;
use super::ids::AccountId;
use super::phone::{E164, Region};
use super::ports::Event;
use super::ports::{Refusal, StoreError};
use super::{Roster, now};
use roster_proto::api::CardField;

/// Cards read per store call.
const PAGE: u32 = 500;

/// Names the rules that read phone numbers: the phone metadata and Roster's patch of the
/// parser. When it changes, the next start reads every stored number again.
pub const PHONE_RULES: &str = "phonenumber 0.3.10+9.0.33, roster patch 1";

/// Where the server keeps the name of the rules that last read the stored numbers.
const PHONE_RULES_KEY: &str = "phone_rules";

/// One stored phone number that today's reading would change or no longer accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneFinding {
    /// The card's owner.
    pub account: AccountId,
    /// What the owner typed (`None` for numbers stored before it was kept).
    pub typed: Option<String>,
    /// The region the text was read in.
    pub region: Option<String>,
    /// The stored number.
    pub stored: E164,
    /// Today's reading: `None` when the number is no longer valid (it is then kept as stored).
    pub now: Option<E164>,
}

/// What a phone check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneReport {
    /// Cards read.
    pub cards: usize,
    /// Phone numbers read.
    pub numbers: usize,
    /// Numbers read differently today, whose cards were (or, when not applied, would be)
    /// corrected.
    pub changed: Vec<PhoneFinding>,
    /// Numbers that are no longer valid; left as they are for their owners to correct.
    pub invalid: Vec<PhoneFinding>,
    /// Cards stored again with corrected numbers.
    pub cards_corrected: usize,
}

impl Roster {
    /// At start: when the phone rules changed since the stored numbers were last read, reads
    /// them again and corrects the cards ([`Roster::check_phones`]). `None` when nothing had
    /// to be done.
    pub async fn check_phones_after_upgrade(&self) -> Result<Option<PhoneReport>> {
        let done = self.store.server_value(PHONE_RULES_KEY).await?;
        if done.as_deref() == Some(PHONE_RULES.as_bytes()) {
            return Ok(None);
        }
        let report = self.check_phones(true).await?;
        self.store
            .set_server_value(PHONE_RULES_KEY, PHONE_RULES.as_bytes())
            .await?;
        Ok(Some(report))
    }

    /// Reads every stored phone number again; with `apply`, stores each card whose numbers
    /// read differently (announcing the change to every group that sees phones).
    pub async fn check_phones(&self, apply: bool) -> Result<PhoneReport> {
        let mut report = PhoneReport::default();
        let mut after = None;
        loop {
            let page = self.store.cards_page(after, PAGE).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = Some(*last);
            for (account, stored) in page {
                report.cards += 1;
                let mut card = stored.card;
                let mut corrected = false;
                for phone in &mut card.phones {
                    report.numbers += 1;
                    let finding = |now: Option<E164>| PhoneFinding {
                        account,
                        typed: phone.typed.as_ref().map(|t| t.text.clone()),
                        region: phone.typed.as_ref().map(|t| t.region.clone()),
                        stored: phone.number.clone(),
                        now,
                    };
                    match phone.typed.as_ref().and_then(|t| t.read()) {
                        Some(Ok(number)) if number != phone.number => {
                            report.changed.push(finding(Some(number.clone())));
                            phone.number = number;
                            corrected = true;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(_)) => report.invalid.push(finding(None)),
                        // Without the typed text, the stored E.164 form is all there is: it
                        // is read again only to see whether it is still a valid number.
                        None => {
                            if E164::parse(phone.number.as_str(), Region::default()).is_err() {
                                report.invalid.push(finding(None));
                            }
                        }
                    }
                }
                if corrected && apply && self.store_corrected(account, stored.revision, card).await? {
                    report.cards_corrected += 1;
                }
            }
        }
        Ok(report)
    }

    /// Stores a card whose numbers were read again, unless its owner changed it meanwhile
    /// (their write was read by today's rules already). Whether it was stored.
    async fn store_corrected(&self, account: AccountId, revision: i64, mut card: Card) -> Result<bool> {
        // Two numbers typed differently may now read as one: a card keeps each number once.
        let mut seen = Vec::new();
        card.phones.retain(|p| {
            let first = !seen.contains(&p.number);
            seen.push(p.number.clone());
            first
        });
        let changed = super::share_policy::ShareFields::of(&[CardField::Phones]);
        match self.store.set_card(account, &card, revision, changed, now()).await {
            Ok((revision, changes)) => {
                self.publish(&changes);
                self.bus.publish(Event::CardChanged { account, revision });
                Ok(true)
            }
            Err(StoreError::Refused(Refusal::CardChanged)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
