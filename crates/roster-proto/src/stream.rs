//! Frames of the live stream at `GET /api/v1/stream` (a WebSocket of JSON text frames).
//!
//! The terminal opens with [`ClientFrame::Hello`] naming the cursor it holds per group. The
//! server answers, per group, with what the terminal missed — `upsert`/`remove` frames closed
//! by a `cursor` frame — then streams each committed change the same way. A terminal applies
//! frames in order and acknowledges a `cursor` once it has stored everything before it; on
//! reconnect it sends its last acknowledged cursors and resumes exactly there. See
//! `docs/stream.md` for the whole protocol.

use crate::api::CardView;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// Frames a terminal sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame: the cursor held per group; groups not named start at 0.
    Hello {
        /// Group id → last applied version.
        #[serde(default)]
        cursors: BTreeMap<Uuid, i64>,
    },
    /// First frame instead of `hello`, for a page that shows some groups only (the web
    /// directory): follow exactly the named groups, from the cursors given; the account's
    /// other groups are neither sent nor announced.
    Watch {
        /// Group id → last applied version.
        cursors: BTreeMap<Uuid, i64>,
    },
    /// Everything up to `cursor` in `group` is stored on the terminal.
    Ack {
        /// The group.
        group: Uuid,
        /// The acknowledged cursor.
        cursor: i64,
    },
    /// Answer to a `ping`.
    Pong,
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The terminal's account is (now) an active member of a group; its whole directory
    /// follows as `upsert` frames closed by a `cursor` frame.
    Joined {
        /// The group.
        group: Uuid,
        /// Its name.
        name: String,
    },
    /// The account is no longer a member (left, removed, or the group was deleted): drop
    /// every card of the group and forget its cursor.
    Left {
        /// The group.
        group: Uuid,
    },
    /// The terminal's cursor is older than the kept log: drop every card of the group; the
    /// whole directory follows as `upsert` frames closed by a `cursor` frame.
    Resync {
        /// The group.
        group: Uuid,
    },
    /// Store (or replace) a member's card.
    Upsert {
        /// The group.
        group: Uuid,
        /// The member's account, also the contact's UID.
        account_id: Uuid,
        /// The card as the terminal may see it.
        card: Box<CardView>,
    },
    /// Delete a member's card.
    Remove {
        /// The group.
        group: Uuid,
        /// The member's account.
        account_id: Uuid,
    },
    /// Every frame of `group` before this one brings the terminal to `cursor`: store it
    /// (after the cards) and acknowledge it.
    Cursor {
        /// The group.
        group: Uuid,
        /// The version reached.
        cursor: i64,
    },
    /// For a group's admins: its join requests changed (someone asked to join or withdrew);
    /// re-read the member list. Carries nothing else.
    Requests {
        /// The group.
        group: Uuid,
    },
    /// Keep-alive; answer with `pong`.
    Ping,
    /// The stream ends: `revoked` (the terminal's credential was revoked), `too_slow` (it fell
    /// too far behind; reconnect), `protocol` (a bad frame), `shutdown`.
    Closing {
        /// Why.
        reason: String,
    },
}

/// `POST /api/v1/stream/tickets`: a single-use ticket for browsers, which cannot set an
/// `Authorization` header on a WebSocket; pass it as `?ticket=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StreamTicket {
    /// The ticket.
    pub ticket: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_a_type_tag() {
        let hello: ClientFrame = serde_json::from_str(r#"{"type":"hello"}"#).unwrap_or(ClientFrame::Pong);
        assert_eq!(
            hello,
            ClientFrame::Hello {
                cursors: BTreeMap::new()
            }
        );
        let frame = ServerFrame::Cursor {
            group: Uuid::nil(),
            cursor: 7,
        };
        assert_eq!(
            serde_json::to_string(&frame).unwrap_or_default(),
            r#"{"type":"cursor","group":"00000000-0000-0000-0000-000000000000","cursor":7}"#
        );
    }
}
