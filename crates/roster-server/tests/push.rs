//! WebDAV-Push end to end: a DAVx5-like client registers a push resource on a local sink
//! (allow-listed `http://127.0.0.1:<port>`), members change their cards, and the sink receives
//! pushes that this test checks and decrypts with RustCrypto — an implementation independent
//! of the server's ring — so a pass means interop, not agreement with itself.

use crate::carddav::{Dav, between};
use crate::support::{TestServer, User};
use aes_gcm::aead::Aead;
use aes_gcm::{Aes128Gcm, KeyInit};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::elliptic_curve::sec1::ToSec1Point;
use reqwest::StatusCode;
use roster_server::http::carddav::xml::parse_http_date;
use serde_json::json;
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The coalescing window the tests run with.
const WINDOW: Duration = Duration::from_millis(300);

/// One request the sink received.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A stand-in push service: `POST /ok/<name>` answers 201, `POST /gone/<name>` 410.
struct Sink {
    origin: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn sink_receive(
    State(received): State<Arc<Mutex<Vec<Received>>>>,
    Path((kind, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    received.lock().unwrap().push(Received {
        name,
        headers,
        body: body.to_vec(),
    });
    if kind == "gone" {
        AxumStatus::GONE
    } else {
        AxumStatus::CREATED
    }
}

impl Sink {
    async fn start() -> Sink {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/{kind}/{name}", post(sink_receive))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Sink { origin, received, task }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/ok/{name}", self.origin)
    }

    fn gone_url(&self, name: &str) -> String {
        format!("{}/gone/{name}", self.origin)
    }

    fn of(&self, name: &str) -> Vec<Received> {
        let received = self.received.lock().unwrap();
        received.iter().filter(|r| r.name == name).cloned().collect()
    }

    /// Waits until `name` received at least `count` pushes; then all of them.
    async fn wait_for(&self, name: &str, count: usize) -> Vec<Received> {
        for _ in 0..500 {
            let got = self.of(name);
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{name} received {} pushes, expected {count}", self.of(name).len());
    }

    /// Waits long enough for any push still coming (settling delay, window, retries).
    async fn quiet_period(&self) {
        tokio::time::sleep(WINDOW * 4).await;
    }
}

/// A starts a server whose push allow-list holds only the sink.
async fn server_for(sink: &Sink) -> TestServer {
    let origin = sink.origin.parse().unwrap();
    TestServer::start_with(|config| {
        config.push_allowed_origins = vec![origin];
        config.push_coalesce = WINDOW;
    })
    .await
}

/// The subscriber side of RFC 8291: a key pair and an auth secret, and decryption.
struct Subscriber {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Subscriber {
    fn new() -> Subscriber {
        let secret = loop {
            let mut bytes = [0u8; 32];
            rand::fill(&mut bytes);
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let mut auth = [0u8; 16];
        rand::fill(&mut auth);
        Subscriber { secret, auth }
    }

    fn public_key(&self) -> Vec<u8> {
        self.secret.public_key().to_sec1_point(false).as_bytes().to_vec()
    }

    /// A push-register body as DAVx5 sends it: no trigger, no expiry.
    fn register_body(&self, push_resource: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<push-register xmlns="https://bitfire.at/webdav-push">
  <subscription>
    <web-push-subscription>
      <push-resource>{push_resource}</push-resource>
      <content-encoding>aes128gcm</content-encoding>
      <subscription-public-key type="p256dh">{}</subscription-public-key>
      <auth-secret>{}</auth-secret>
    </web-push-subscription>
  </subscription>
</push-register>"#,
            URL_SAFE_NO_PAD.encode(self.public_key()),
            URL_SAFE_NO_PAD.encode(self.auth)
        )
    }

    /// Decrypts an `aes128gcm` body (RFC 8188 §2, RFC 8291 §3.4) of one record.
    fn decrypt(&self, body: &[u8]) -> String {
        open(&self.secret, &self.public_key(), &self.auth, body)
    }
}

fn open(secret: &p256::SecretKey, ua_public: &[u8], auth: &[u8], body: &[u8]) -> String {
    let (salt, rest) = body.split_at(16);
    let record_size = u32::from_be_bytes(rest[..4].try_into().unwrap());
    assert!(record_size >= 18, "record size {record_size}");
    let key_id_len = usize::from(rest[4]);
    assert_eq!(key_id_len, 65, "the key id is the sender's P-256 key");
    let as_public = &rest[5..5 + key_id_len];
    let ciphertext = &rest[5 + key_id_len..];
    assert!(ciphertext.len() <= record_size as usize, "one record");

    let sender = p256::PublicKey::from_sec1_bytes(as_public).unwrap();
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), sender.as_affine());
    let key_info = [b"WebPush: info\0".as_slice(), ua_public, as_public].concat();
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes().as_slice())
        .expand(&key_info, &mut ikm)
        .unwrap();
    let content = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    content.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
    let mut nonce = [0u8; 12];
    content.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
    let cipher = Aes128Gcm::new_from_slice(&cek).unwrap();
    let mut plain = cipher
        .decrypt(&nonce.into(), ciphertext)
        .expect("the push decrypts and authenticates");
    while plain.last() == Some(&0) {
        plain.pop();
    }
    assert_eq!(plain.pop(), Some(2), "the last record ends with the 0x02 delimiter");
    String::from_utf8(plain).unwrap()
}

#[test]
fn the_test_receiver_decrypts_the_rfc_8291_example() {
    // RFC 8291, Appendix A: checks this file's decryption before it judges the server's.
    let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
    let secret = p256::SecretKey::from_slice(&b64("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")).unwrap();
    let ua_public = b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
    assert_eq!(
        secret.public_key().to_sec1_point(false).as_bytes(),
        ua_public.as_slice()
    );
    let body = b64(
        "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
    );
    let plain = open(&secret, &ua_public, &b64("BTBZMqHH6r4Tts7J_aSIgg"), &body);
    assert_eq!(plain, "When I grow up, I want to be a watermelon");
}

/// An app password of `user` as a CardDAV client, with its terminal id.
async fn app_password(user: &User, name: &str) -> (Dav, Uuid) {
    let (status, body) = user.post("/api/v1/app-passwords", json!({ "name": name })).await;
    assert_eq!(status, StatusCode::CREATED, "app password: {body}");
    let dav = Dav::with_password(user, body["password"].as_str().unwrap());
    (dav, body["terminal"]["id"].as_str().unwrap().parse().unwrap())
}

/// The book's push properties: (VAPID public key, topic, sync token).
async fn push_props(dav: &Dav, book: &str) -> (String, String, String) {
    let answer = dav
        .propfind(
            &dav.book(book),
            "0",
            r#"<propfind xmlns="DAV:" xmlns:P="https://bitfire.at/webdav-push"><prop><P:transports/><P:topic/><P:supported-triggers/><sync-token/></prop></propfind>"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::MULTI_STATUS, "{}", answer.body);
    let ok = between(&answer.body, "<D:propstat>", "</D:propstat>");
    assert!(ok.contains("HTTP/1.1 200 OK"), "{}", answer.body);
    assert!(
        ok.contains(
            r#"<transports xmlns="https://bitfire.at/webdav-push"><web-push><vapid-public-key type="p256ecdsa">"#
        ),
        "{}",
        answer.body
    );
    assert!(
        ok.contains(r#"<supported-triggers xmlns="https://bitfire.at/webdav-push"><content-update><D:sync-level>1</D:sync-level></content-update></supported-triggers>"#),
        "{}",
        answer.body
    );
    let key = between(ok, r#"<vapid-public-key type="p256ecdsa">"#, "</vapid-public-key>");
    let topic = between(ok, r#"<topic xmlns="https://bitfire.at/webdav-push">"#, "</topic>");
    let token = between(ok, "<D:sync-token>", "</D:sync-token>");
    (key.to_string(), topic.to_string(), token.to_string())
}

/// Registers a subscription on a book; returns the answer.
async fn register(dav: &Dav, book: &str, body: &str) -> crate::carddav::Answer {
    dav.request(
        "POST",
        &dav.book(book),
        &[("Content-Type", "application/xml; charset=utf-8")],
        body,
    )
    .await
}

/// The path of an absolute registration URL.
fn path_of(location: &str) -> String {
    let rest = location.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

/// Checks the VAPID `Authorization` of a push (RFC 8292) against the advertised key and the
/// sink's origin.
fn check_vapid(push: &Received, advertised: &str, origin: &str) {
    let authorization = push.headers["authorization"].to_str().unwrap();
    let (token, key) = authorization
        .strip_prefix("vapid t=")
        .and_then(|rest| rest.split_once(", k="))
        .unwrap_or_else(|| panic!("not a VAPID authorization: {authorization}"));
    assert_eq!(key, advertised, "k= is the advertised vapid-public-key");
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&b64(signing_input.split_once('.').unwrap().0)).unwrap();
    assert_eq!(header["alg"], "ES256");
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&b64(key)).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&b64(signature)).unwrap();
    verifying
        .verify(signing_input.as_bytes(), &signature)
        .expect("the JWT is signed with the advertised key");
    let claims: serde_json::Value = serde_json::from_slice(&b64(signing_input.split_once('.').unwrap().1)).unwrap();
    assert_eq!(claims["aud"], origin);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp} vs now {now}");
    assert!(claims["sub"].as_str().is_some_and(|s| !s.is_empty()));
}

/// Anna and Ben share a group; Ben has a card.
async fn pair(server: &TestServer) -> (User, User) {
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    anna.set_card("Anna Schmidt", "030 1111111").await;
    ben.set_card("Ben Meyer", "030 2222222").await;
    let group = anna.create_group("Choir", "invite_only").await;
    ben.accept(&anna.invite(group).await).await;
    (anna, ben)
}

#[tokio::test]
async fn a_davx5_like_client_gets_one_encrypted_signed_push_per_change() {
    let sink = Sink::start().await;
    let server = server_for(&sink).await;
    let (anna, ben) = pair(&server).await;
    let (dav, _) = app_password(&anna, "phone").await;

    let options = dav.request("OPTIONS", &dav.book("contacts"), &[], "").await;
    assert!(options.header("dav").split(", ").any(|c| c == "webdav-push"));
    let (vapid, topic, _) = push_props(&dav, "contacts").await;
    assert_eq!(URL_SAFE_NO_PAD.decode(&vapid).unwrap().len(), 65);
    assert_eq!(push_props(&dav, "me").await.0, vapid, "one VAPID key for every book");
    assert_ne!(push_props(&dav, "me").await.1, topic, "a topic per book");

    let subscriber = Subscriber::new();
    let answer = register(&dav, "contacts", &subscriber.register_body(&sink.url("anna"))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let location = answer.header("location").to_string();
    assert!(
        location.starts_with(&format!("{}/dav/push/", server.base)),
        "absolute registration URL: {location}"
    );
    let expires = parse_http_date(answer.header("expires")).expect("Expires is an HTTP date");
    let days = (expires - OffsetDateTime::now_utc()).whole_hours() as f64 / 24.0;
    assert!((3.0..=7.01).contains(&days), "expires in {days} days");

    // Ben changes his phone: Anna's contacts book changes, and her phone hears of it once.
    ben.set_card("Ben Meyer", "030 2222223").await;
    let pushes = sink.wait_for("anna", 1).await;
    sink.quiet_period().await;
    assert_eq!(sink.of("anna").len(), 1, "one change, one push");
    let push = &pushes[0];
    assert_eq!(push.headers["content-encoding"], "aes128gcm");
    assert_eq!(push.headers["urgency"], "normal");
    assert!(push.headers["ttl"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    let coalesce = push.headers["topic"].to_str().unwrap();
    assert!(
        coalesce.len() <= 32
            && coalesce
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    check_vapid(push, &vapid, &sink.origin);
    let message = subscriber.decrypt(&push.body);
    assert!(
        !message.contains("Ben") && !message.contains("2222223"),
        "no card data: {message}"
    );
    let (_, _, token) = push_props(&dav, "contacts").await;
    assert_eq!(between(&message, "<P:topic>", "</P:topic>"), topic, "{message}");
    assert_eq!(
        between(&message, "<D:sync-token>", "</D:sync-token>"),
        token,
        "{message}"
    );
    assert!(message.contains("<P:push-message xmlns:D=\"DAV:\" xmlns:P=\"https://bitfire.at/webdav-push\">"));

    // The same push resource again renews the registration.
    let answer = register(&dav, "contacts", &subscriber.register_body(&sink.url("anna"))).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    assert_eq!(answer.header("location"), location);

    // A burst of five changes is folded: fewer pushes, the last one current.
    for i in 0..5 {
        ben.set_card("Ben Meyer", &format!("030 333333{i}")).await;
    }
    sink.quiet_period().await;
    let burst = sink.of("anna")[1..].to_vec();
    assert!(
        !burst.is_empty() && burst.len() < 5,
        "{} pushes for 5 changes",
        burst.len()
    );
    let last = subscriber.decrypt(&burst[burst.len() - 1].body);
    let (_, _, token) = push_props(&dav, "contacts").await;
    assert_eq!(between(&last, "<D:sync-token>", "</D:sync-token>"), token);

    // Unregistered: no more pushes; a second DELETE finds nothing.
    let before = sink.of("anna").len();
    let deleted = dav.request("DELETE", &path_of(&location), &[], "").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let again = dav.request("DELETE", &path_of(&location), &[], "").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    ben.set_card("Ben Meyer", "030 4444444").await;
    sink.quiet_period().await;
    assert_eq!(sink.of("anna").len(), before);
}

#[tokio::test]
async fn push_dont_notify_spares_only_the_writing_terminal() {
    let sink = Sink::start().await;
    let server = server_for(&sink).await;
    let (anna, ben) = pair(&server).await;
    let (phone, _) = app_password(&anna, "phone").await;
    let (tablet, _) = app_password(&anna, "tablet").await;
    let (phone_keys, tablet_keys) = (Subscriber::new(), Subscriber::new());
    let mine = register(&phone, "me", &phone_keys.register_body(&sink.url("phone"))).await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
    let theirs = register(&tablet, "me", &tablet_keys.register_body(&sink.url("tablet"))).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    let registration = mine.header("location").to_string();

    // Ben may not remove Anna's registration.
    let (ben_dav, _) = app_password(&ben, "ben's phone").await;
    let foreign = ben_dav.request("DELETE", &path_of(&registration), &[], "").await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    // The phone writes Anna's card and says it knows.
    let card = anna.id;
    let vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Schmidt\r\nN:Schmidt;Anna;;;\r\nTEL;TYPE=CELL:030 5555555\r\nEND:VCARD\r\n";
    let put = phone
        .request(
            "PUT",
            &phone.card("me", card),
            &[
                ("Content-Type", "text/vcard"),
                ("Push-Dont-Notify", &format!("\"{registration}\"")),
            ],
            vcard,
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.body);
    let tablet_pushes = sink.wait_for("tablet", 1).await;
    sink.quiet_period().await;
    assert!(sink.of("phone").is_empty(), "the writer is not told of its own change");
    assert_eq!(tablet_pushes.len(), 1);
    let message = tablet_keys.decrypt(&tablet_pushes[0].body);
    let (_, topic, token) = push_props(&tablet, "me").await;
    assert_eq!(between(&message, "<P:topic>", "</P:topic>"), topic);
    assert_eq!(between(&message, "<D:sync-token>", "</D:sync-token>"), token);

    // A later change without the header reaches both.
    anna.set_card("Anna Schmidt", "030 6666666").await;
    sink.wait_for("phone", 1).await;
    sink.wait_for("tablet", 2).await;
}

#[tokio::test]
async fn registrations_are_refused_or_dropped_when_they_must_be() {
    let sink = Sink::start().await;
    let server = server_for(&sink).await;
    let (anna, ben) = pair(&server).await;
    let (dav, terminal) = app_password(&anna, "phone").await;
    let subscriber = Subscriber::new();

    // Push resources off the allow-list are refused (and never contacted).
    let answer = register(
        &dav,
        "contacts",
        &subscriber.register_body("https://push.example.com/wpush/abc"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(
        answer
            .body
            .contains(r#"<push-not-available xmlns="https://bitfire.at/webdav-push"/>"#),
        "{}",
        answer.body
    );
    assert!(answer.header("location").is_empty());

    // Unusable bodies say why.
    let bad_key = subscriber
        .register_body(&sink.url("x"))
        .replace("type=\"p256dh\">B", "type=\"p256dh\">A");
    for (body, status, condition) in [
        ("<nope/>".to_string(), StatusCode::BAD_REQUEST, "invalid-subscription"),
        (bad_key, StatusCode::BAD_REQUEST, "invalid-subscription"),
        (
            subscriber.register_body(&format!("{}{}", sink.url("x"), "a".repeat(3000))),
            StatusCode::BAD_REQUEST,
            "push-resource: longer than",
        ),
        (
            subscriber.register_body(&sink.url("x")).replace(
                "</subscription>",
                "</subscription><trigger><property-update><depth xmlns=\"DAV:\">0</depth></property-update></trigger>",
            ),
            StatusCode::FORBIDDEN,
            "no-supported-trigger",
        ),
    ] {
        let answer = register(&dav, "contacts", &body).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert!(answer.body.contains(condition), "{}", answer.body);
    }
    let not_a_book = dav
        .request(
            "POST",
            &format!("{}nope/", dav.home()),
            &[],
            &subscriber.register_body(&sink.url("x")),
        )
        .await;
    assert_eq!(not_a_book.status, StatusCode::NOT_FOUND);

    // A push service that forgot the subscription (410) makes the server forget it too.
    let answer = register(&dav, "contacts", &subscriber.register_body(&sink.gone_url("gone"))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let gone = path_of(answer.header("location"));
    ben.set_card("Ben Meyer", "030 7777777").await;
    sink.wait_for("gone", 1).await;
    sink.quiet_period().await;
    assert_eq!(sink.of("gone").len(), 1, "410 is final: no retry");
    assert_eq!(
        dav.request("DELETE", &gone, &[], "").await.status,
        StatusCode::NOT_FOUND
    );
    ben.set_card("Ben Meyer", "030 7777778").await;
    sink.quiet_period().await;
    assert_eq!(sink.of("gone").len(), 1);

    // Revoking the terminal drops its registrations.
    let answer = register(&dav, "contacts", &subscriber.register_body(&sink.url("revoked"))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let revoked = path_of(answer.header("location"));
    let (status, body) = anna.delete(&format!("/api/v1/terminals/{terminal}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    ben.set_card("Ben Meyer", "030 8888888").await;
    sink.quiet_period().await;
    assert!(sink.of("revoked").is_empty());
    let (other, _) = app_password(&anna, "tablet").await;
    assert_eq!(
        other.request("DELETE", &revoked, &[], "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_vapid_key_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("push.db").display());
    let start = |url: String| TestServer::start_with(move |config| config.database_url = url);

    let first = start(database_url.clone()).await;
    let anna = first.user("anna").await;
    let (status, body) = anna.post("/api/v1/app-passwords", json!({"name": "phone"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let password = body["password"].as_str().unwrap().to_string();
    let dav = Dav::with_password(&anna, &password);
    let (key, topic, _) = push_props(&dav, "contacts").await;
    first.stop().await;

    let second = start(database_url).await;
    let mut anna = anna.clone();
    anna.base = second.base.clone();
    let dav = Dav::with_password(&anna, &password);
    let (key_again, topic_again, _) = push_props(&dav, "contacts").await;
    assert_eq!(key_again, key);
    assert_eq!(topic_again, topic, "topics are stable too");
}

#[tokio::test]
async fn group_books_hear_of_joins_and_a_leaver_loses_its_subscription() {
    let sink = Sink::start().await;
    let server = server_for(&sink).await;
    let anna = server.user("anna").await;
    let ben = server.user("ben").await;
    let cara = server.user("cara").await;
    for (user, name, phone) in [
        (&anna, "Anna Schmidt", "030 1111111"),
        (&ben, "Ben Meyer", "030 2222222"),
        (&cara, "Cara Vogel", "030 3333333"),
    ] {
        user.set_card(name, phone).await;
    }
    let group = anna.create_group("Choir", "invite_only").await;
    ben.accept(&anna.invite(group).await).await;
    let (anna_dav, _) = app_password(&anna, "phone").await;
    let (ben_dav, _) = app_password(&ben, "phone").await;
    let book = group.to_string();
    let (anna_keys, ben_keys) = (Subscriber::new(), Subscriber::new());
    let answer = register(&anna_dav, &book, &anna_keys.register_body(&sink.url("anna-group"))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let answer = register(&ben_dav, &book, &ben_keys.register_body(&sink.url("ben-group"))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    let ben_registration = path_of(answer.header("location"));

    // Cara joins: both members' group books change.
    cara.accept(&anna.invite(group).await).await;
    let pushes = sink.wait_for("anna-group", 1).await;
    sink.wait_for("ben-group", 1).await;
    let message = anna_keys.decrypt(&pushes[pushes.len() - 1].body);
    let (_, topic, token) = push_props(&anna_dav, &book).await;
    assert_eq!(between(&message, "<P:topic>", "</P:topic>"), topic);
    assert_eq!(between(&message, "<D:sync-token>", "</D:sync-token>"), token);

    // A rename changes the book's name and token: its subscribers hear of it.
    sink.quiet_period().await;
    let before = sink.of("anna-group").len();
    let (status, body) = anna
        .send(
            reqwest::Method::PATCH,
            &format!("/api/v1/groups/{group}"),
            Some(serde_json::json!({"name": "Chamber choir"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pushes = sink.wait_for("anna-group", before + 1).await;
    let message = anna_keys.decrypt(&pushes[pushes.len() - 1].body);
    let (_, _, renamed) = push_props(&anna_dav, &book).await;
    assert_ne!(renamed, token, "a rename changes the book's token");
    assert_eq!(between(&message, "<D:sync-token>", "</D:sync-token>"), renamed);

    // Ben leaves: the group's book is gone for him, and so is his subscription of it.
    sink.quiet_period().await;
    let (status, body) = ben.delete(&format!("/api/v1/groups/{group}/membership")).await;
    assert!(status.is_success(), "{status}: {body}");
    sink.quiet_period().await;
    cara.set_card("Cara Vogel", "030 3333334").await;
    sink.quiet_period().await;
    assert_eq!(
        ben_dav.request("DELETE", &ben_registration, &[], "").await.status,
        StatusCode::NOT_FOUND,
        "a leaver's subscription of the group's book is dropped"
    );
    let before = sink.of("ben-group").len();
    cara.set_card("Cara Vogel", "030 3333335").await;
    sink.quiet_period().await;
    assert_eq!(sink.of("ben-group").len(), before);
    assert!(sink.of("anna-group").len() >= 2, "Anna still hears of the group");
}

/// A push service that accepts connections and never answers.
async fn stalled_service() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (origin, task)
}

#[tokio::test]
async fn a_stalled_push_service_does_not_delay_pushes_to_others() {
    let sink = Sink::start().await;
    let (stalled, stalled_task) = stalled_service().await;
    let server = TestServer::start_with(|config| {
        config.push_allowed_origins = vec![sink.origin.parse().unwrap(), stalled.parse().unwrap()];
        config.push_coalesce = WINDOW;
    })
    .await;
    let (anna, ben) = pair(&server).await;
    let (dav, _) = app_password(&anna, "phone").await;
    let subscriber = Subscriber::new();
    // More subscriptions at the stalled service than pushes may be in flight in all.
    for i in 0..24 {
        let answer = register(&dav, "me", &subscriber.register_body(&format!("{stalled}/ok/s{i}"))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }
    let answer = register(&dav, "contacts", &subscriber.register_body(&sink.url("anna"))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);

    // Anna's own card: 24 pushes to the stalled service, each waiting for its timeout.
    anna.set_card("Anna S.", "030 1111111").await;
    tokio::time::sleep(WINDOW * 2).await;
    // Ben's card: one push to the healthy sink, which must not queue behind them.
    let changed = std::time::Instant::now();
    ben.set_card("Ben M.", "030 2222222").await;
    while sink.of("anna").is_empty() {
        assert!(
            changed.elapsed() < Duration::from_secs(4),
            "the healthy push service waited behind the stalled one"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stalled_task.abort();
}
