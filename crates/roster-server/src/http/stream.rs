//! `GET /api/v1/stream`: the live feed over a WebSocket of JSON frames (`roster_proto::stream`).
//!
//! This module only translates: frames in, [`Feed`] items out. Authentication is the
//! terminal's bearer token, or a single-use ticket (`?ticket=`) for browsers. Each batch is
//! encoded once and shared by every connection that sends it.

use super::AppState;
use super::auth::{Auth, bearer_token};
use super::error::{ApiError, ApiResult, Json, Query};
use super::wire::delta_to_wire;
use crate::domain::Error;
use crate::domain::feed::{Batch, CloseReason, Feed, FeedItem, TICKET_TTL};
use crate::domain::ids::GroupId;
use crate::domain::sync::Delta;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use futures_util::{SinkExt, StreamExt};
use roster_proto::api::{DirectoryChange, Problem};
use roster_proto::stream::{ClientFrame, ServerFrame, StreamTicket};
use serde::Deserialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use utoipa::IntoParams;

/// Application-level keep-alive period.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Safety-net period: re-check credential, memberships and versions.
const CHECK_EVERY: Duration = Duration::from_secs(60);
/// A terminal that takes longer than this to take one frame is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The first frame must come within this.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/stream", get(stream))
        .route("/api/v1/stream/tickets", post(create_ticket))
}

/// Stream query parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub(super) struct StreamQuery {
    /// A ticket from `POST /api/v1/stream/tickets`, instead of the `Authorization` header.
    ticket: Option<String>,
}

/// POST /api/v1/stream/tickets — a single-use ticket to open the stream without a header.
#[utoipa::path(post, path = "/api/v1/stream/tickets", tag = "stream", security(("bearer" = [])),
    responses((status = 201, body = StreamTicket), (status = 401, body = Problem)))]
pub(super) async fn create_ticket(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> ApiResult<(StatusCode, Json<StreamTicket>)> {
    let ticket = state.roster.stream_ticket(&caller).await?;
    Ok((
        StatusCode::CREATED,
        Json(StreamTicket {
            ticket,
            expires_in: TICKET_TTL.as_secs(),
        }),
    ))
}

/// GET /api/v1/stream — upgrade to the live feed (see `docs/stream.md`).
#[utoipa::path(get, path = "/api/v1/stream", tag = "stream", security(("bearer" = [])), params(StreamQuery),
    responses((status = 101, description = "WebSocket of `ClientFrame`/`ServerFrame` JSON text frames"),
              (status = 401, body = Problem), (status = 403, description = "an app password", body = Problem),
              (status = 429, description = "too many (re)connections or open streams", body = Problem)))]
pub(super) async fn stream(
    State(state): State<AppState>,
    Query(query): Query<StreamQuery>,
    headers: axum::http::HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let caller = match &query.ticket {
        Some(ticket) => state.roster.authenticate_ticket(ticket).await?,
        None => {
            let token = bearer_token(&headers).ok_or(Error::Unauthorized)?;
            state.roster.authenticate(token).await?
        }
    };
    let permit = state.roster.admit_stream(&caller)?;
    let upgrade = upgrade.map_err(|e| ApiError::Request(StatusCode::BAD_REQUEST, e.to_string()))?;
    let roster = state.roster.clone();
    let frames = state.frames.clone();
    // Small buffers: an idle connection should cost kilobytes, not the 128 KiB default.
    // tungstenite zero-fills its whole read buffer at each read and keeps the write buffer at
    // its peak size: 1 KiB each holds a client's acks and a live change's frames (a bigger
    // frame grows them as needed). Measured with `roster-load --terminals 10000 idle`: 15.1 KiB
    // per connection with 4 + 2 KiB, 10.8 KiB with 1 + 1 KiB.
    Ok(upgrade
        .read_buffer_size(512)
        .write_buffer_size(1024)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| {
            // What the opening needs, in one allocation that the opening frees: the future
            // below stays small for as long as the connection lives (see `serve`).
            let opening = Box::new(Opening {
                socket,
                roster,
                frames,
                caller,
            });
            async move {
                if let Err(e) = serve(opening).await {
                    tracing::debug!(error = %e, "stream ended");
                }
                drop(permit);
            }
        }))
}

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
enum StreamEnd {
    #[error("the terminal went away")]
    Gone,
    #[error("the terminal is too slow")]
    TooSlow,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error(transparent)]
    Domain(#[from] Error),
}

/// Sends one frame and flushes.
async fn send(socket: &mut WebSocket, frame: Utf8Bytes) -> Result<(), StreamEnd> {
    queue(socket, frame).await?;
    flush(socket).await
}

/// Queues a frame without flushing, so that a burst leaves in one write.
async fn queue(socket: &mut WebSocket, frame: Utf8Bytes) -> Result<(), StreamEnd> {
    within_send_timeout(socket.feed(Message::Text(frame))).await
}

async fn flush(socket: &mut WebSocket) -> Result<(), StreamEnd> {
    within_send_timeout(socket.flush()).await
}

/// Runs a send, ending the stream if the terminal takes longer than [`SEND_TIMEOUT`]. A send
/// that completes at once (the common case: the socket's buffer has room) arms no timer, since
/// a fan-out to 10,000 terminals would otherwise register and cancel 30,000 of them.
async fn within_send_timeout<E>(send: impl Future<Output = Result<(), E>>) -> Result<(), StreamEnd> {
    let mut send = std::pin::pin!(send);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(send.as_mut().poll(cx))).await;
    let result = match first {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => match tokio::time::timeout(SEND_TIMEOUT, send).await {
            Ok(result) => result,
            Err(_) => return Err(StreamEnd::TooSlow),
        },
    };
    result.map_err(|_| StreamEnd::Gone)
}

fn encode(frame: &ServerFrame) -> Utf8Bytes {
    // Serialising these plain structs cannot fail.
    Utf8Bytes::from(serde_json::to_string(frame).unwrap_or_default())
}

/// One encoded frame of a batch, with whose card it carries (`None`: the cursor).
type Frame = (Option<uuid::Uuid>, Utf8Bytes);

/// Batches most recently encoded; a batch is sent by every connection within moments.
const FRAMES_KEPT: usize = 64;

/// Batches' frames, encoded once however many connections send them. A batch is known by its
/// address, held by a weak reference: while that lives the allocation cannot be reused, so an
/// address never names another batch.
#[derive(Default)]
pub struct Frames(Mutex<VecDeque<Encoded>>);

/// A batch (weakly held) and its frames.
type Encoded = (Weak<Batch>, Arc<[Frame]>);

impl std::fmt::Debug for Frames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Frames")
    }
}

impl Frames {
    /// The batch's frames: kept, or encoded and kept.
    fn of(&self, batch: &Arc<Batch>) -> Arc<[Frame]> {
        let kept = |frames: &VecDeque<Encoded>| {
            frames
                .iter()
                .rev()
                .find(|(weak, _)| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(batch)))
                .map(|(_, frames)| Arc::clone(frames))
        };
        if let Some(frames) = self.0.lock().ok().and_then(|f| kept(&f)) {
            return frames;
        }
        let frames = encode_batch(batch);
        if let Ok(mut kept) = self.0.lock() {
            kept.retain(|(weak, _)| weak.strong_count() > 0);
            if kept.len() >= FRAMES_KEPT {
                kept.pop_front();
            }
            kept.push_back((Arc::downgrade(batch), Arc::clone(&frames)));
        }
        frames
    }
}

/// A batch's frames: one per delta, and the cursor when it carries one.
fn encode_batch(batch: &Batch) -> Arc<[Frame]> {
    let group = batch.group.0;
    batch
        .deltas
        .iter()
        .map(|delta| {
            let subject = match delta {
                Delta::Upsert(account, _) | Delta::Remove(account) => account.0,
            };
            let frame = match delta_to_wire(delta.clone()) {
                DirectoryChange::Upsert { account_id, card } => ServerFrame::Upsert {
                    group,
                    account_id,
                    card,
                },
                DirectoryChange::Remove { account_id } => ServerFrame::Remove { group, account_id },
            };
            (Some(subject), encode(&frame))
        })
        .chain(
            batch
                .cursor
                .map(|cursor| (None, encode(&ServerFrame::Cursor { group, cursor }))),
        )
        .collect()
}

/// Sends items in order; `Err` when the feed must close.
async fn send_items(
    socket: &mut WebSocket,
    feed: &Feed,
    frames: &Frames,
    items: Vec<FeedItem>,
) -> Result<(), StreamEnd> {
    let me = feed.account().0;
    // Counted once per batch of items, not per frame: this is the fan-out's hot path.
    let mut sent = 0u64;
    let result = send_each(socket, frames, items, me, &mut sent).await;
    metrics::counter!("roster_stream_frames_total").increment(sent);
    result?;
    flush(socket).await
}

/// Queues the frames of `items`, counting them in `sent`.
async fn send_each(
    socket: &mut WebSocket,
    frames: &Frames,
    items: Vec<FeedItem>,
    me: uuid::Uuid,
    sent: &mut u64,
) -> Result<(), StreamEnd> {
    for item in items {
        let frame = match item {
            FeedItem::Joined { group, name } => encode(&ServerFrame::Joined { group: group.0, name }),
            FeedItem::Left { group } => encode(&ServerFrame::Left { group: group.0 }),
            FeedItem::Resync { group } => {
                metrics::counter!("roster_stream_resyncs_total").increment(1);
                encode(&ServerFrame::Resync { group: group.0 })
            }
            FeedItem::Requests { group } => encode(&ServerFrame::Requests { group: group.0 }),
            FeedItem::Changes(batch) => {
                for (subject, frame) in frames.of(&batch).iter() {
                    // Hub batches are computed once for every member; nobody receives their own card.
                    if *subject != Some(me) {
                        queue(socket, frame.clone()).await?;
                        *sent += 1;
                    }
                }
                continue;
            }
            FeedItem::Closed(reason) => {
                close(
                    socket,
                    match reason {
                        CloseReason::Revoked => "revoked",
                        CloseReason::Shutdown => "shutdown",
                    },
                )
                .await;
                return Err(StreamEnd::Gone);
            }
        };
        queue(socket, frame).await?;
        *sent += 1;
    }
    Ok(())
}

async fn close(socket: &mut WebSocket, reason: &str) {
    let _ = send(socket, encode(&ServerFrame::Closing { reason: reason.into() })).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1008,
            reason: Utf8Bytes::from(reason.to_string()),
        })))
        .await;
}

fn parse(message: &Message) -> Result<Option<ClientFrame>, StreamEnd> {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str())
            .map(Some)
            .map_err(|e| StreamEnd::Protocol(format!("not a client frame: {e}"))),
        Message::Binary(_) => Err(StreamEnd::Protocol("binary frames are not used".into())),
        Message::Close(_) => Err(StreamEnd::Gone),
        Message::Ping(_) | Message::Pong(_) => Ok(None),
    }
}

/// A connection past its hello: the socket and the feed it follows.
struct Connection {
    socket: WebSocket,
    feed: Feed,
    frames: Arc<Frames>,
}

/// What a connection's opening takes.
struct Opening {
    socket: WebSocket,
    roster: Arc<crate::domain::Roster>,
    frames: Arc<Frames>,
    caller: crate::domain::terminal::Caller,
}

/// One connection, from its hello to its end, in two stages each in its own allocation: the
/// opening (hello, the feed, what the terminal missed), freed once done, and the loop.
///
/// A connection's future is as big as its biggest state, 10,000 idle terminals hold 10,000
/// of them, and the compiler lays an `async fn`'s states out side by side more than over each
/// other (and keeps its arguments twice). So the loop is a future of its own holding only
/// what it needs, and every rarely taken or bulky await in it (the safety net, sending,
/// closing) is boxed. With axum's upgrade task, a connection held 4.5 KiB of futures before;
/// now about 2.0 KiB (heap profiles of 1,000 idle connections under valgrind's massif).
async fn serve(opening: Box<Opening>) -> Result<(), StreamEnd> {
    let connection = Box::pin(open(opening)).await?;
    Box::pin(connection.run()).await
}

/// Reads the hello, opens the feed and sends what the terminal missed.
async fn open(opening: Box<Opening>) -> Result<Connection, StreamEnd> {
    let Opening {
        mut socket,
        roster,
        frames,
        caller,
    } = *opening;
    let hello = tokio::time::timeout(HELLO_TIMEOUT, socket.next()).await;
    let (cursors, watch_only) = match hello {
        Ok(Some(Ok(message))) => match parse(&message) {
            Ok(Some(ClientFrame::Hello { cursors })) => (cursors, false),
            Ok(Some(ClientFrame::Watch { cursors })) => (cursors, true),
            Ok(_) => {
                close(&mut socket, "protocol").await;
                return Err(StreamEnd::Protocol("the first frame must be hello".into()));
            }
            Err(e) => {
                close(&mut socket, "protocol").await;
                return Err(e);
            }
        },
        _ => return Err(StreamEnd::Gone),
    };
    let cursors: BTreeMap<GroupId, i64> = cursors
        .into_iter()
        .map(|(group, cursor)| (GroupId(group), cursor.max(0)))
        .collect();
    let scope = watch_only.then(|| cursors.keys().copied().collect());
    let (feed, items) = roster.open_feed_scoped(caller, &cursors, scope).await?;
    send_items(&mut socket, &feed, &frames, items).await?;
    Ok(Connection { socket, feed, frames })
}

impl Connection {
    /// Sends what arrives, reads acks, pings, and runs the safety net, until the end.
    ///
    /// A function returning a future rather than an `async fn`, whose arguments the compiler
    /// keeps twice in the future.
    fn run(self) -> impl Future<Output = Result<(), StreamEnd>> + Send {
        let Connection {
            mut socket,
            mut feed,
            frames,
        } = self;
        async move {
            // One timer for both the keep-alive and the safety net, and one waiting future for
            // the feed, kept across turns: a fan-out wakes every connection, and each turn of
            // this loop should cost only what arrived.
            let signal = feed.signal();
            let mut arrived = std::pin::pin!(signal.arrived());
            let started = tokio::time::Instant::now();
            let (mut next_ping, mut next_check) = (started + PING_EVERY, started + CHECK_EVERY);
            let mut timer = std::pin::pin!(tokio::time::sleep_until(next_ping.min(next_check)));
            loop {
                tokio::select! {
                    biased;
                    () = arrived.as_mut() => {
                        arrived.set(signal.arrived());
                        let items = feed.poll().await?;
                        Box::pin(send_items(&mut socket, &feed, &frames, items)).await?;
                    }
                    message = socket.next() => {
                        let Some(Ok(message)) = message else { return Err(StreamEnd::Gone) };
                        match parse(&message) {
                            Ok(Some(ClientFrame::Ack { group, cursor })) => {
                                if let Err(e) = feed.ack(GroupId(group), cursor) {
                                    tracing::debug!(error = %e, "ignored an ack");
                                }
                            }
                            Ok(Some(ClientFrame::Pong) | None) => {}
                            Ok(Some(ClientFrame::Hello { .. } | ClientFrame::Watch { .. })) => {
                                Box::pin(close(&mut socket, "protocol")).await;
                                return Err(StreamEnd::Protocol("hello twice".into()));
                            }
                            Err(StreamEnd::Gone) => return Err(StreamEnd::Gone),
                            Err(e) => {
                                Box::pin(close(&mut socket, "protocol")).await;
                                return Err(e);
                            }
                        }
                    }
                    () = timer.as_mut() => {
                        let now = tokio::time::Instant::now();
                        if now >= next_check {
                            next_check = now + CHECK_EVERY;
                            let items = Box::pin(feed.check()).await?;
                            Box::pin(send_items(&mut socket, &feed, &frames, items)).await?;
                        }
                        if now >= next_ping {
                            next_ping = now + PING_EVERY;
                            Box::pin(send(&mut socket, encode(&ServerFrame::Ping))).await?;
                        }
                        timer.as_mut().reset(next_ping.min(next_check));
                    }
                }
            }
        }
    }
}
