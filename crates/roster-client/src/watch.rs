//! `watch`: stays connected to the live stream (`/api/v1/stream`) and applies each frame to
//! the [`Book`] as it arrives, through the same [`Book::apply`] as `sync`.
//!
//! The cursors sent in `hello` are those stored in the cache, and a cursor is stored (then
//! acknowledged) only after the cards before it are on disk, so a reconnect — after a network
//! loss or a server restart — resumes exactly where the book stands. Reconnects back off from
//! one second to [`MAX_BACKOFF`].

use crate::book::{Applied, Book};
use crate::error::{Error, Result};
use crate::http::Client;
use futures_util::{SinkExt, StreamExt};
use roster_proto::api::DirectoryChange;
use roster_proto::stream::{ClientFrame, ServerFrame};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::{self, Message};
use uuid::Uuid;

/// The longest wait between two connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// What a watcher reports, one event per line of output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// Connected (again) and caught up on what was missed.
    Connected,
    /// A contact file was written or deleted.
    Contact {
        /// The group.
        group: String,
        /// The contact's name.
        name: String,
        /// `added`, `updated` or `removed`.
        change: &'static str,
    },
    /// The account joined a group: its folder is being filled.
    Joined {
        /// The group.
        group: String,
    },
    /// The account is no longer in a group: its contacts were removed.
    Left {
        /// The group.
        group: String,
        /// How many contact files went.
        removed: usize,
    },
    /// The connection dropped; the next attempt is after `retry_in_seconds`.
    Disconnected {
        /// Why, in one line.
        reason: String,
        /// Seconds until the next attempt.
        retry_in_seconds: u64,
    },
}

/// Why one connection ended.
enum End {
    /// Reconnect (after a back-off); `true` when the connection had worked.
    Retry(String, bool),
    /// Stop: the credential is no longer valid.
    Fatal(Error),
}

/// Watches until the token is rejected (the only error it returns) or the future is dropped.
pub async fn watch(client: &Client, token: &str, book: &Book, report: &mut dyn FnMut(WatchEvent)) -> Result<()> {
    let mut backoff = Duration::from_secs(1);
    loop {
        match connection(client, token, book, report).await {
            End::Fatal(error) => return Err(error),
            End::Retry(reason, worked) => {
                if worked {
                    backoff = Duration::from_secs(1);
                }
                report(WatchEvent::Disconnected {
                    reason,
                    retry_in_seconds: backoff.as_secs(),
                });
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The stream URL of a server: `http` becomes `ws`, `https` becomes `wss`.
fn stream_url(base: &str) -> String {
    let rest = base.strip_prefix("http").unwrap_or(base);
    format!("ws{rest}/api/v1/stream")
}

/// One connection, from handshake to its end.
async fn connection(client: &Client, token: &str, book: &Book, report: &mut dyn FnMut(WatchEvent)) -> End {
    let mut request = match stream_url(client.base()).into_client_request() {
        Ok(request) => request,
        Err(e) => return End::Fatal(Error::Usage(format!("bad server URL: {e}"))),
    };
    match HeaderValue::from_str(&format!("Bearer {token}")) {
        Ok(value) => request.headers_mut().insert(header::AUTHORIZATION, value),
        Err(_) => return End::Fatal(Error::TokenRejected),
    };
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(tungstenite::Error::Http(response)) if response.status() == StatusCode::UNAUTHORIZED => {
            return End::Fatal(Error::TokenRejected);
        }
        Err(e) => return End::Retry(format!("cannot reach {}: {e}", client.base()), false),
    };
    let mut state = match Session::new(book).await {
        Ok(state) => state,
        Err(e) => return End::Fatal(e),
    };
    let hello = ClientFrame::Hello {
        cursors: state.cursors.clone(),
    };
    if let Err(e) = send(&mut socket, &hello).await {
        return End::Retry(e, false);
    }
    // Acknowledgements are coalesced: at most one per group every `ACK_EVERY`, carrying the
    // latest stored cursor, so that a burst of changes costs the server one read, not one per
    // change. A cursor is stored before it is acknowledged, so nothing is lost by waiting.
    let mut acks = Acks::default();
    loop {
        let next = tokio::select! {
            next = socket.next() => next,
            () = acks.due() => {
                for ack in acks.take() {
                    if let Err(e) = send(&mut socket, &ack).await {
                        return End::Retry(e, true);
                    }
                }
                continue;
            }
        };
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => return End::Retry("the server closed the stream".into(), true),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return End::Retry(format!("the stream broke: {e}"), true),
        };
        let frame: ServerFrame = match serde_json::from_str(text.as_str()) {
            Ok(frame) => frame,
            // A frame kind from a newer server: ignoring it is safe, cursors still guard order.
            Err(_) => continue,
        };
        let reply = match state.handle(client, book, frame, report).await {
            Ok(reply) => reply,
            Err(Error::TokenRejected) => return End::Fatal(Error::TokenRejected),
            Err(Error::Server(why)) => return End::Retry(why, true),
            // A local failure (disk full, cache) is not cured by reconnecting at once, so the
            // back-off keeps growing; each retry resumes from the stored cursor, losing nothing.
            Err(e) => return End::Retry(e.to_string(), false),
        };
        let reply = match reply {
            Some(ClientFrame::Ack { group, cursor }) => {
                acks.hold(group, cursor);
                None
            }
            other => other,
        };
        if let Some(reply) = reply
            && let Err(e) = send(&mut socket, &reply).await
        {
            return End::Retry(e, true);
        }
    }
}

/// Longest an acknowledgement waits, gathering later cursors of its group.
const ACK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Acknowledgements held back to be sent together (see `docs/stream.md`).
#[derive(Debug, Default)]
struct Acks {
    latest: BTreeMap<Uuid, i64>,
    due: Option<tokio::time::Instant>,
}

impl Acks {
    /// Holds an acknowledgement; the first one held sets when they are all sent.
    fn hold(&mut self, group: Uuid, cursor: i64) {
        let latest = self.latest.entry(group).or_insert(cursor);
        *latest = (*latest).max(cursor);
        self.due.get_or_insert_with(|| tokio::time::Instant::now() + ACK_EVERY);
    }

    /// Completes when held acknowledgements are due; never while none is held.
    async fn due(&self) {
        match self.due {
            Some(due) => tokio::time::sleep_until(due).await,
            None => std::future::pending().await,
        }
    }

    /// The acknowledgements to send now, one per group with its latest cursor.
    fn take(&mut self) -> Vec<ClientFrame> {
        self.due = None;
        std::mem::take(&mut self.latest)
            .into_iter()
            .map(|(group, cursor)| ClientFrame::Ack { group, cursor })
            .collect()
    }
}

async fn send<S>(socket: &mut S, frame: &ClientFrame) -> std::result::Result<(), String>
where
    S: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let text = serde_json::to_string(frame).map_err(|e| e.to_string())?;
    socket
        .send(Message::text(text))
        .await
        .map_err(|e| format!("the stream broke: {e}"))
}

/// What one connection remembers between frames.
struct Session {
    /// Stored cursor per group, as sent in `hello`.
    cursors: BTreeMap<Uuid, i64>,
    names: BTreeMap<Uuid, String>,
    /// Groups being resent whole: the contacts not (yet) resent, removed at the `cursor` frame.
    resyncing: BTreeMap<Uuid, BTreeSet<Uuid>>,
    /// Groups whose first `cursor` frame arrived: the catch-up after `hello` is done for them.
    caught_up: BTreeSet<Uuid>,
    /// Whether `Connected` was reported (once every known group caught up).
    announced: bool,
}

impl Session {
    async fn new(book: &Book) -> Result<Self> {
        let groups = book.groups().await?;
        Ok(Session {
            cursors: groups.iter().map(|g| (g.id, g.cursor)).collect(),
            names: groups.into_iter().map(|g| (g.id, g.name)).collect(),
            resyncing: BTreeMap::new(),
            caught_up: BTreeSet::new(),
            announced: false,
        })
    }

    /// The name of a group, asking the server for groups this book has not seen yet.
    async fn name(&mut self, client: &Client, book: &Book, group: Uuid) -> Result<String> {
        if let Some(name) = self.names.get(&group) {
            return Ok(name.clone());
        }
        let name = client.group(group).await?.name;
        book.track_group(group, &name).await?;
        self.names.insert(group, name.clone());
        Ok(name)
    }

    async fn handle(
        &mut self,
        client: &Client,
        book: &Book,
        frame: ServerFrame,
        report: &mut dyn FnMut(WatchEvent),
    ) -> Result<Option<ClientFrame>> {
        match frame {
            ServerFrame::Joined { group, name } => {
                book.track_group(group, &name).await?;
                self.names.insert(group, name.clone());
                report(WatchEvent::Joined { group: name });
            }
            ServerFrame::Left { group } => {
                let name = self.names.remove(&group).unwrap_or_else(|| group.to_string());
                let removed = book.forget_group(group).await?;
                self.cursors.remove(&group);
                report(WatchEvent::Left { group: name, removed });
            }
            ServerFrame::Resync { group } => {
                self.name(client, book, group).await?;
                let held = book.accounts_of(group).await?.into_iter().collect();
                self.resyncing.insert(group, held);
            }
            ServerFrame::Upsert {
                group,
                account_id,
                card,
            } => {
                if let Some(stale) = self.resyncing.get_mut(&group) {
                    stale.remove(&account_id);
                }
                let name = card.formatted_name.clone().unwrap_or_else(|| account_id.to_string());
                let change = DirectoryChange::Upsert { account_id, card };
                self.apply(client, book, group, name, change, report).await?;
            }
            ServerFrame::Remove { group, account_id } => self.remove(client, book, group, account_id, report).await?,
            ServerFrame::Cursor { group, cursor } => {
                if let Some(stale) = self.resyncing.remove(&group) {
                    for account_id in stale {
                        self.remove(client, book, group, account_id, report).await?;
                    }
                }
                self.name(client, book, group).await?;
                book.commit_cursor(group, cursor).await?;
                self.cursors.insert(group, cursor);
                self.caught_up.insert(group);
                if !self.announced && self.names.keys().all(|g| self.caught_up.contains(g)) {
                    self.announced = true;
                    report(WatchEvent::Connected);
                }
                return Ok(Some(ClientFrame::Ack { group, cursor }));
            }
            ServerFrame::Ping => return Ok(Some(ClientFrame::Pong)),
            // Join requests are shown on the web pages; a terminal's address book has none.
            ServerFrame::Requests { .. } => {}
            ServerFrame::Closing { reason } if reason == "revoked" => return Err(Error::TokenRejected),
            ServerFrame::Closing { reason } => {
                return Err(Error::Server(format!("the server ended the stream ({reason})")));
            }
        }
        Ok(None)
    }

    /// Removes a contact, reporting it by the name on the card being removed.
    async fn remove(
        &mut self,
        client: &Client,
        book: &Book,
        group: Uuid,
        account_id: Uuid,
        report: &mut dyn FnMut(WatchEvent),
    ) -> Result<()> {
        let name = book
            .contact_name(group, account_id)
            .await?
            .unwrap_or_else(|| account_id.to_string());
        let change = DirectoryChange::Remove { account_id };
        self.apply(client, book, group, name, change, report).await
    }

    async fn apply(
        &mut self,
        client: &Client,
        book: &Book,
        group: Uuid,
        name: String,
        change: DirectoryChange,
        report: &mut dyn FnMut(WatchEvent),
    ) -> Result<()> {
        let group_name = self.name(client, book, group).await?;
        let kind = match book.apply(group, &group_name, &change).await? {
            Applied::Added => "added",
            Applied::Updated => "updated",
            Applied::Removed => "removed",
            Applied::Unchanged | Applied::Absent | Applied::KeptUserFile => return Ok(()),
        };
        report(WatchEvent::Contact {
            group: group_name,
            name,
            change: kind,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_urls_follow_the_server_scheme() {
        assert_eq!(stream_url("http://h:1"), "ws://h:1/api/v1/stream");
        assert_eq!(stream_url("https://h"), "wss://h/api/v1/stream");
    }
}
