//! Live push over the WebSocket stream: delivery to every terminal, resumption, joins and
//! leaves while connected, revocation, tickets, compaction and randomised convergence.

use crate::support::{TestServer, User};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use roster_proto::api::CardView;
use roster_proto::stream::{ClientFrame, ServerFrame};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A terminal's local state, built only from frames, as a real client would.
#[derive(Debug, Default, Clone)]
pub(crate) struct Replica {
    pub(crate) cards: BTreeMap<Uuid, BTreeMap<Uuid, CardView>>,
    pub(crate) cursors: BTreeMap<Uuid, i64>,
    pub(crate) resyncs: usize,
}

impl Replica {
    /// Applies a frame; returns the ack to send, if any.
    fn apply(&mut self, frame: &ServerFrame) -> Option<ClientFrame> {
        match frame {
            ServerFrame::Joined { group, .. } => {
                self.cards.entry(*group).or_default();
            }
            ServerFrame::Left { group } => {
                self.cards.remove(group);
                self.cursors.remove(group);
            }
            ServerFrame::Resync { group } => {
                self.resyncs += 1;
                self.cards.insert(*group, BTreeMap::new());
            }
            ServerFrame::Upsert {
                group,
                account_id,
                card,
            } => {
                self.cards
                    .entry(*group)
                    .or_default()
                    .insert(*account_id, (**card).clone());
            }
            ServerFrame::Remove { group, account_id } => {
                self.cards.entry(*group).or_default().remove(account_id);
            }
            ServerFrame::Cursor { group, cursor } => {
                self.cursors.insert(*group, *cursor);
                return Some(ClientFrame::Ack {
                    group: *group,
                    cursor: *cursor,
                });
            }
            ServerFrame::Ping => return Some(ClientFrame::Pong),
            ServerFrame::Closing { .. } | ServerFrame::Requests { .. } => {}
        }
        None
    }
}

/// One connected terminal.
pub(crate) struct Terminal {
    pub(crate) user: User,
    pub(crate) socket: Option<Socket>,
    pub(crate) replica: Replica,
    pub(crate) frames: Vec<ServerFrame>,
}

pub(crate) async fn open(
    user: &User,
    path_query: &str,
    bearer: bool,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/api/v1/stream{path_query}", user.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request()?;
    if bearer {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {}", user.token).parse().unwrap());
    }
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

impl Terminal {
    pub(crate) async fn connect(user: &User) -> Terminal {
        let mut terminal = Terminal {
            user: user.clone(),
            socket: None,
            replica: Replica::default(),
            frames: Vec::new(),
        };
        terminal.reconnect().await;
        terminal
    }

    /// (Re)opens the stream with the cursors the replica holds.
    pub(crate) async fn reconnect(&mut self) {
        let mut socket = open(&self.user, "", true).await.expect("stream opens");
        let hello = ClientFrame::Hello {
            cursors: self.replica.cursors.clone(),
        };
        socket
            .send(Message::text(serde_json::to_string(&hello).unwrap()))
            .await
            .unwrap();
        self.socket = Some(socket);
    }

    pub(crate) async fn disconnect(&mut self) {
        if let Some(mut socket) = self.socket.take() {
            let _ = socket.close(None).await;
        }
    }

    /// The next frame within `wait`, applied to the replica (and acknowledged).
    pub(crate) async fn next(&mut self, wait: Duration) -> Option<ServerFrame> {
        let socket = self.socket.as_mut()?;
        loop {
            let message = tokio::time::timeout(wait, socket.next()).await.ok()??.ok()?;
            let text = match message {
                Message::Text(text) => text,
                Message::Close(_) => return None,
                _ => continue,
            };
            let frame: ServerFrame = serde_json::from_str(text.as_str()).expect("a server frame");
            if let Some(reply) = self.replica.apply(&frame) {
                socket
                    .send(Message::text(serde_json::to_string(&reply).unwrap()))
                    .await
                    .ok()?;
            }
            self.frames.push(frame.clone());
            return Some(frame);
        }
    }

    /// Reads frames until the replica's cursor of `group` reaches `version` (or `group` is gone
    /// when `version` is `None`).
    pub(crate) async fn until(&mut self, group: Uuid, version: Option<i64>) {
        let reached = |replica: &Replica| match version {
            Some(v) => replica.cursors.get(&group).is_some_and(|c| *c >= v),
            None => !replica.cursors.contains_key(&group) && !replica.cards.contains_key(&group),
        };
        while !reached(&self.replica) {
            let frame = self.next(Duration::from_secs(10)).await;
            assert!(
                frame.is_some(),
                "stream ended or stalled before {group} reached {version:?}: {:?}",
                self.replica
            );
        }
    }

    /// Asserts that no frame other than a ping comes within `wait`.
    pub(crate) async fn quiet(&mut self, wait: Duration) {
        while let Some(frame) = self.next(wait).await {
            assert_eq!(frame, ServerFrame::Ping, "unexpected frame");
        }
    }
}

async fn version(server: &TestServer, user: &User, group: Uuid) -> i64 {
    let (status, body) = user.get(&format!("/api/v1/groups/{group}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _ = server;
    body["version"].as_i64().unwrap()
}

async fn directory(user: &User, group: Uuid) -> BTreeMap<Uuid, CardView> {
    user.directory(group)
        .await
        .into_iter()
        .map(|(id, card)| (id.parse().unwrap(), serde_json::from_value(card).unwrap()))
        .collect()
}

#[tokio::test]
async fn changes_reach_every_terminal_and_a_reconnect_resumes_exactly() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let anna_phone = anna.another_terminal("phone").await;
    let ben = server.user("ben").await;
    anna.set_card("Anna", "030 1111111").await;
    ben.set_card("Ben", "030 2222222").await;
    let group = anna.create_group("Family", "invite_only").await;
    ben.accept(&anna.invite(group).await).await;

    let mut terminals = vec![
        Terminal::connect(&anna).await,
        Terminal::connect(&anna_phone).await,
        Terminal::connect(&ben).await,
    ];
    let v = version(&server, &anna, group).await;
    for t in &mut terminals {
        t.until(group, Some(v)).await;
        assert!(matches!(t.frames[0], ServerFrame::Joined { .. }), "{:?}", t.frames);
    }
    assert_eq!(terminals[0].replica.cards[&group].len(), 1, "anna sees ben only");
    assert_eq!(
        terminals[2].replica.cards[&group][&anna.id].phones[0].number,
        "+49301111111"
    );

    // Presence: the terminals list shows which are connected.
    let (_, list) = anna.get("/api/v1/terminals").await;
    assert!(
        list.as_array().unwrap().iter().all(|t| t["connected"] == true),
        "{list}"
    );

    // Ben changes his number: both of Anna's terminals receive it live.
    ben.set_card("Ben", "030 3333333").await;
    let v = version(&server, &anna, group).await;
    for t in &mut terminals[..2] {
        t.until(group, Some(v)).await;
        assert_eq!(t.replica.cards[&group][&ben.id].phones[0].number, "+49303333333");
    }
    // Ben's own terminal is told nothing about his own card, only the cursor.
    terminals[2].until(group, Some(v)).await;
    assert!(!terminals[2].replica.cards[&group].contains_key(&ben.id));

    // Anna's phone goes offline, misses three changes, reconnects with its cursor.
    terminals[1].disconnect().await;
    let before = terminals[1].frames.len();
    ben.set_card("Ben", "030 4444444").await;
    let cara = server.user("cara").await;
    cara.set_card("Cara", "030 5555555").await;
    cara.accept(&anna.invite(group).await).await;
    ben.put(
        &format!("/api/v1/groups/{group}/share-policy"),
        json!({"fields": ["phones"]}),
    )
    .await;
    terminals[1].reconnect().await;
    let v = version(&server, &anna, group).await;
    terminals[1].until(group, Some(v)).await;
    assert_eq!(terminals[1].replica.cards[&group], directory(&anna_phone, group).await);
    // Resumed, not restarted: no joined and no resync frames, only what was missed.
    let resumed = &terminals[1].frames[before..];
    assert!(
        resumed
            .iter()
            .all(|f| !matches!(f, ServerFrame::Joined { .. } | ServerFrame::Resync { .. }))
    );
    let upserts = resumed
        .iter()
        .filter(|f| matches!(f, ServerFrame::Upsert { .. }))
        .count();
    assert_eq!(upserts, 2, "ben once and cara once: {resumed:?}");
    server.stop().await;
}

#[tokio::test]
async fn joining_and_leaving_while_connected() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    anna.set_card("Anna", "030 1111111").await;
    ben.set_card("Ben", "030 2222222").await;
    let mut bens = Terminal::connect(&ben).await;
    bens.quiet(Duration::from_millis(300)).await;

    let group = anna.create_group("Club", "approval").await;
    assert_eq!(ben.accept(&anna.invite(group).await).await, "pending");
    bens.quiet(Duration::from_millis(300)).await;
    let path = format!("/api/v1/groups/{group}/members/{}/approve", ben.id);
    assert_eq!(anna.post(&path, json!({})).await.0, StatusCode::NO_CONTENT);
    let v = version(&server, &anna, group).await;
    bens.until(group, Some(v)).await;
    assert!(
        bens.frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Joined { name, .. } if name == "Club"))
    );
    assert_eq!(
        bens.replica.cards[&group][&anna.id].formatted_name.as_deref(),
        Some("Anna")
    );

    // Removed: a `left` frame, then nothing more of that group.
    let mut annas = Terminal::connect(&anna).await;
    annas.until(group, Some(v)).await;
    let path = format!("/api/v1/groups/{group}/members/{}", ben.id);
    assert_eq!(anna.delete(&path).await.0, StatusCode::NO_CONTENT);
    bens.until(group, None).await;
    anna.set_card("Anna", "030 9999999").await;
    bens.quiet(Duration::from_millis(500)).await;
    let left = bens
        .frames
        .iter()
        .position(|f| *f == ServerFrame::Left { group })
        .unwrap();
    let after: Vec<_> = bens.frames[left + 1..]
        .iter()
        .filter(|f| **f != ServerFrame::Ping)
        .collect();
    assert!(after.is_empty(), "frames after leaving: {after:?}");
    assert!(bens.replica.cards.is_empty());
    // Anna's terminal saw Ben's removal.
    let v = version(&server, &anna, group).await;
    annas.until(group, Some(v)).await;
    assert!(annas.replica.cards[&group].is_empty());

    // A deleted group is left by everybody connected.
    let other = anna.create_group("Short-lived", "invite_only").await;
    let v = version(&server, &anna, other).await;
    annas.until(other, Some(v)).await;
    assert_eq!(
        anna.delete(&format!("/api/v1/groups/{other}")).await.0,
        StatusCode::NO_CONTENT
    );
    annas.until(other, None).await;
    server.stop().await;
}

#[tokio::test]
async fn revocation_closes_the_stream_at_once_and_tickets_work_once() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let laptop = anna.another_terminal("laptop").await;
    let mut stream = Terminal::connect(&laptop).await;
    stream.quiet(Duration::from_millis(200)).await;
    let (_, list) = anna.get("/api/v1/terminals").await;
    let id = list.as_array().unwrap().iter().find(|t| t["name"] == "laptop").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        anna.delete(&format!("/api/v1/terminals/{id}")).await.0,
        StatusCode::NO_CONTENT
    );
    let frame = stream.next(Duration::from_secs(5)).await;
    assert_eq!(
        frame,
        Some(ServerFrame::Closing {
            reason: "revoked".into()
        })
    );
    assert_eq!(stream.next(Duration::from_secs(5)).await, None, "closed");
    // The revoked token cannot open a stream again.
    assert!(open(&laptop, "", true).await.is_err());
    // Without credentials: refused.
    assert!(open(&anna, "", false).await.is_err());

    // A ticket opens one stream, once.
    let (status, ticket) = anna.post("/api/v1/stream/tickets", json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let query = format!("?ticket={}", ticket["ticket"].as_str().unwrap());
    let mut socket = open(&anna, &query, false).await.expect("ticket accepted");
    socket
        .send(Message::text(r#"{"type":"hello","cursors":{}}"#))
        .await
        .unwrap();
    assert!(open(&anna, &query, false).await.is_err(), "a ticket is single-use");
    // A bad first frame closes the stream with a reason.
    let mut bad = open(&anna, "", true).await.unwrap();
    bad.send(Message::text("not json")).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(5), bad.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let frame: ServerFrame = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(
        frame,
        ServerFrame::Closing {
            reason: "protocol".into()
        }
    );
    server.stop().await;
}

#[tokio::test]
async fn a_cursor_older_than_the_kept_log_gets_a_resync() {
    let server = TestServer::start_with(|config| {
        config.log_keep_versions = 2;
        config.log_keep_for = Duration::ZERO;
    })
    .await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    let cara = server.user("cara").await;
    for (user, phone) in [(&anna, "030 1111111"), (&ben, "030 2222222"), (&cara, "030 3333333")] {
        user.set_card(&user.login, phone).await;
    }
    let group = anna.create_group("G", "invite_only").await;
    let code = anna.invite(group).await;
    ben.accept(&code).await;
    let mut annas = Terminal::connect(&anna).await;
    let v = version(&server, &anna, group).await;
    annas.until(group, Some(v)).await;
    annas.disconnect().await;
    // While away: Cara joins, Ben leaves, and the log is compacted past Anna's cursor.
    cara.accept(&code).await;
    ben.delete(&format!("/api/v1/groups/{group}/membership")).await;
    cara.set_card("Cara", "030 4444444").await;
    cara.set_card("Cara", "030 5555555").await;
    assert!(server.roster.compact_log().await.unwrap() > 0);
    let (status, page) = anna.get(&format!("/api/v1/groups/{group}/changes?since={v}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["resync"], true, "{page}");
    annas.reconnect().await;
    let v = version(&server, &anna, group).await;
    annas.until(group, Some(v)).await;
    assert_eq!(annas.replica.resyncs, 1);
    assert_eq!(annas.replica.cards[&group], directory(&anna, group).await);
    assert!(
        !annas.replica.cards[&group].contains_key(&ben.id),
        "Ben's departure is not left behind"
    );
    server.stop().await;
}

/// N terminals, random disconnects and random writes; at the end each terminal's replica equals
/// the server's directory for its account, for every group.
#[tokio::test]
async fn randomised_terminals_converge() {
    use rand::{RngExt, SeedableRng};
    let server = TestServer::start().await;
    let mut users = Vec::new();
    for i in 0..4 {
        let user = server.user(&format!("person{i}")).await;
        user.set_card(&format!("Person {i}"), &format!("030 100000{i}")).await;
        users.push(user);
    }
    let groups = [
        users[0].create_group("A", "open_with_link").await,
        users[1].create_group("B", "open_with_link").await,
    ];
    let codes = [users[0].invite(groups[0]).await, users[1].invite(groups[1]).await];
    let mut terminals = Vec::new();
    for (i, user) in users.iter().enumerate() {
        terminals.push(Terminal::connect(user).await);
        if i < 2 {
            terminals.push(Terminal::connect(&user.another_terminal("second").await).await);
        }
    }
    for seed in [1u64, 2, 3] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..40 {
            let who = rng.random_range(0..users.len());
            let g = rng.random_range(0..2);
            let user = &users[who];
            match rng.random_range(0..7) {
                0 | 1 => {
                    let _ = user
                        .post(&format!("/api/v1/invites/{}/accept", codes[g]), json!({}))
                        .await;
                }
                2 => {
                    let _ = user.delete(&format!("/api/v1/groups/{}/membership", groups[g])).await;
                }
                3 | 4 => {
                    let n = rng.random_range(1_000_000..9_999_999);
                    user.set_card(&format!("Person {who} v{n}"), &format!("030 {n}")).await;
                }
                5 => {
                    let fields = [json!(["phones"]), json!(["name", "phones"]), json!([]), json!(["name"])];
                    let policy = json!({"fields": fields[rng.random_range(0..4)]});
                    let _ = user
                        .put(&format!("/api/v1/groups/{}/share-policy", groups[g]), policy)
                        .await;
                }
                _ => {
                    let t = rng.random_range(0..terminals.len());
                    if terminals[t].socket.is_some() {
                        terminals[t].disconnect().await;
                    } else {
                        terminals[t].reconnect().await;
                    }
                }
            }
            // Let some frames flow, as a real terminal reads while things happen.
            for t in terminals.iter_mut() {
                while t.next(Duration::from_millis(5)).await.is_some() {}
            }
        }
    }
    for t in terminals.iter_mut() {
        if t.socket.is_none() {
            t.reconnect().await;
        }
    }
    for t in terminals.iter_mut() {
        let (_, mine) = t.user.get("/api/v1/groups").await;
        let active: HashMap<Uuid, i64> = mine
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["state"] == "active")
            .map(|g| {
                (
                    g["id"].as_str().unwrap().parse().unwrap(),
                    g["version"].as_i64().unwrap(),
                )
            })
            .collect();
        for group in groups {
            match active.get(&group) {
                Some(v) => {
                    t.until(group, Some(*v)).await;
                    assert_eq!(
                        t.replica.cards[&group],
                        directory(&t.user, group).await,
                        "{} in {group}",
                        t.user.login
                    );
                }
                None => {
                    t.until(group, None).await;
                }
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_stopping_server_tells_its_streams() {
    let server = TestServer::start().await;
    let anna = server.user("anna").await;
    let mut stream = Terminal::connect(&anna).await;
    stream.quiet(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(server.stop());
    let frame = stream.next(Duration::from_secs(5)).await;
    assert_eq!(
        frame,
        Some(ServerFrame::Closing {
            reason: "shutdown".into()
        })
    );
    stopping.await.unwrap();
}
