//! The text a cross-instance bus carries: a few announcements from one instance per message.
//! Pure parsing and printing, no I/O.
//!
//! A message is a header line, `1 <instance>` (the format's version and the sending
//! process's random id, so that it can skip its own echo), then one line per announcement:
//!
//! ```text
//! v <group> <version>      GroupVersion
//! m <account> <group>      Membership
//! r <group>                GroupRenamed
//! c <account> <revision>   CardChanged
//! t <terminal>             TerminalRevoked
//! a <account>              AccountClosed
//! ```
//!
//! Ids are uuids. A message that does not parse in full is refused whole: what it announced
//! is only delayed, since subscribers catch up from the change log.

use crate::domain::ports::Event;
use std::fmt::Write as _;
use std::str::FromStr;
use uuid::Uuid;

/// The format's version, first on every message: a later format gets another number, so
/// that instances of different releases ignore each other's messages instead of misreading
/// them.
const VERSION: &str = "1";

/// One parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The sending process's id.
    pub(crate) sender: Uuid,
    /// Its announcements, in order.
    pub(crate) events: Vec<Event>,
}

/// Why a message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The header is missing, or names another format.
    #[error("not a version {VERSION} bus message")]
    Version,
    /// The header's sender is not a uuid.
    #[error("the sender is not a uuid")]
    Sender,
    /// An announcement line does not parse.
    #[error("line {0} is not an announcement")]
    Line(usize),
}

/// The announcements as messages of at most `limit` bytes each, all from `sender`.
pub(crate) fn pack(sender: Uuid, events: &[Event], limit: usize) -> Vec<String> {
    let header = format!("{VERSION} {sender}");
    let mut messages = Vec::new();
    let mut message = header.clone();
    let mut line = String::new();
    for event in events {
        line.clear();
        print(event, &mut line);
        // A line always fits an empty message: the longest is far below any transport's limit.
        if message.len() + 1 + line.len() > limit && message.len() > header.len() {
            messages.push(std::mem::replace(&mut message, header.clone()));
        }
        message.push('\n');
        message.push_str(&line);
    }
    if message.len() > header.len() {
        messages.push(message);
    }
    messages
}

/// Parses a message.
pub(crate) fn unpack(text: &str) -> Result<Message, Malformed> {
    let mut lines = text.split('\n');
    let header = lines.next().unwrap_or_default();
    let sender = match header.split_once(' ') {
        Some((VERSION, sender)) => Uuid::parse_str(sender).map_err(|_| Malformed::Sender)?,
        _ => return Err(Malformed::Version),
    };
    let events = lines
        .enumerate()
        .map(|(index, line)| parse(line).ok_or(Malformed::Line(index + 2)))
        .collect::<Result<_, _>>()?;
    Ok(Message { sender, events })
}

fn print(event: &Event, out: &mut String) {
    // Writing into a String cannot fail.
    let _ = match event {
        Event::GroupVersion { group, version } => write!(out, "v {group} {version}"),
        Event::Membership { account, group } => write!(out, "m {account} {group}"),
        Event::GroupRenamed { group } => write!(out, "r {group}"),
        Event::CardChanged { account, revision } => write!(out, "c {account} {revision}"),
        Event::TerminalRevoked { terminal } => write!(out, "t {terminal}"),
        Event::AccountClosed { account } => write!(out, "a {account}"),
    };
}

fn parse(line: &str) -> Option<Event> {
    let mut words = line.split(' ');
    let event = match words.next()? {
        "v" => Event::GroupVersion {
            group: word(&mut words)?,
            version: word(&mut words)?,
        },
        "m" => Event::Membership {
            account: word(&mut words)?,
            group: word(&mut words)?,
        },
        "r" => Event::GroupRenamed {
            group: word(&mut words)?,
        },
        "c" => Event::CardChanged {
            account: word(&mut words)?,
            revision: word(&mut words)?,
        },
        "t" => Event::TerminalRevoked {
            terminal: word(&mut words)?,
        },
        "a" => Event::AccountClosed {
            account: word(&mut words)?,
        },
        _ => return None,
    };
    // Trailing words mean a format this version does not know.
    words.next().is_none().then_some(event)
}

fn word<'a, T: FromStr>(words: &mut impl Iterator<Item = &'a str>) -> Option<T> {
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{AccountId, GroupId, TerminalId};
    use proptest::prelude::*;

    fn every_variant() -> Vec<Event> {
        vec![
            Event::GroupVersion {
                group: GroupId::random(),
                version: i64::MAX,
            },
            Event::Membership {
                account: AccountId::random(),
                group: GroupId::random(),
            },
            Event::GroupRenamed {
                group: GroupId::random(),
            },
            Event::CardChanged {
                account: AccountId::random(),
                revision: -1,
            },
            Event::TerminalRevoked {
                terminal: TerminalId::random(),
            },
            Event::AccountClosed {
                account: AccountId::random(),
            },
        ]
    }

    #[test]
    fn every_variant_round_trips_in_one_message() {
        let sender = Uuid::new_v4();
        let events = every_variant();
        let messages = pack(sender, &events, 8000);
        assert_eq!(messages.len(), 1);
        assert_eq!(unpack(&messages[0]), Ok(Message { sender, events }));
    }

    #[test]
    fn a_long_burst_is_split_below_the_limit_and_keeps_its_order() {
        let sender = Uuid::new_v4();
        let group = GroupId::random();
        let events: Vec<Event> = (0..1000)
            .map(|version| Event::GroupVersion { group, version })
            .collect();
        let messages = pack(sender, &events, 7900);
        assert!(messages.len() > 1);
        assert!(messages.iter().all(|message| message.len() <= 7900));
        let heard: Vec<Event> = messages.iter().flat_map(|m| unpack(m).unwrap().events).collect();
        assert_eq!(heard, events);
    }

    #[test]
    fn nothing_to_say_is_no_message() {
        assert!(pack(Uuid::new_v4(), &[], 8000).is_empty());
    }

    #[test]
    fn malformed_messages_are_refused() {
        let sender = Uuid::new_v4();
        let group = GroupId::random();
        for (text, why) in [
            (String::new(), Malformed::Version),
            ("hello".to_owned(), Malformed::Version),
            (format!("2 {sender}\nv {group} 1"), Malformed::Version),
            ("1 not-a-uuid\nr x".to_owned(), Malformed::Sender),
            (format!("1 {sender}\nv {group}"), Malformed::Line(2)),
            (format!("1 {sender}\nv {group} one"), Malformed::Line(2)),
            (format!("1 {sender}\nr {group}\nx {group}"), Malformed::Line(3)),
            (format!("1 {sender}\nr {group} extra"), Malformed::Line(2)),
            (format!("1 {sender}\nr {group}\n"), Malformed::Line(3)),
        ] {
            assert_eq!(unpack(&text), Err(why), "{text:?}");
        }
    }

    fn any_event() -> impl Strategy<Value = Event> {
        let id = || any::<u128>().prop_map(Uuid::from_u128);
        prop_oneof![
            (id(), any::<i64>()).prop_map(|(g, version)| Event::GroupVersion {
                group: g.into(),
                version
            }),
            (id(), id()).prop_map(|(a, g)| Event::Membership {
                account: a.into(),
                group: g.into()
            }),
            id().prop_map(|g| Event::GroupRenamed { group: g.into() }),
            (id(), any::<i64>()).prop_map(|(a, revision)| Event::CardChanged {
                account: a.into(),
                revision
            }),
            id().prop_map(|t| Event::TerminalRevoked { terminal: t.into() }),
            id().prop_map(|a| Event::AccountClosed { account: a.into() }),
        ]
    }

    proptest! {
        #[test]
        fn any_announcements_round_trip(events in proptest::collection::vec(any_event(), 0..300)) {
            let sender = Uuid::new_v4();
            let heard: Vec<Event> = pack(sender, &events, 2000)
                .iter()
                .flat_map(|message| {
                    let message = unpack(message).unwrap();
                    assert_eq!(message.sender, sender);
                    message.events
                })
                .collect();
            prop_assert_eq!(heard, events);
        }

        #[test]
        fn any_text_is_parsed_or_refused_without_panic(text in ".*") {
            let _ = unpack(&text);
        }
    }
}
