//! Conversions from the domain to the JSON wire types that more than one door sends (the
//! JSON API's `changes` and the stream's frames).

use crate::domain::sync::Delta;
use roster_proto::api::DirectoryChange;

/// A sync-engine delta as it goes on the wire.
pub fn delta_to_wire(delta: Delta) -> DirectoryChange {
    match delta {
        Delta::Upsert(account, card) => DirectoryChange::Upsert {
            account_id: account.0,
            card,
        },
        Delta::Remove(account) => DirectoryChange::Remove { account_id: account.0 },
    }
}
