//! The server port: keys the first start writes, values the server keeps, totals and ping.

use super::fixtures::{account, group, terminal};
use roster_proto::api::TerminalKind;
use roster_server::domain::ports::Store;
use std::sync::Arc;

pub(crate) async fn the_first_server_key_candidate_wins(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0u8..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.server_key("vapid", &[n; 32]).await.unwrap() })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.unwrap());
    }
    let first = keys[0].clone();
    assert_eq!(first.len(), 32);
    assert!(keys.iter().all(|key| *key == first), "concurrent first starts agree");
    assert_eq!(store.server_key("vapid", b"later candidate").await.unwrap(), first);
    assert_ne!(
        store.server_key("topic", b"other").await.unwrap(),
        first,
        "keys are per name"
    );
}

pub(crate) async fn server_values_are_kept_and_replaced(store: Arc<dyn Store>) {
    assert_eq!(store.server_value("phone-rules").await.unwrap(), None);
    store.set_server_value("phone-rules", b"8.13").await.unwrap();
    assert_eq!(store.server_value("phone-rules").await.unwrap(), Some(b"8.13".to_vec()));
    store.set_server_value("phone-rules", b"9.0").await.unwrap();
    assert_eq!(store.server_value("phone-rules").await.unwrap(), Some(b"9.0".to_vec()));
}

pub(crate) async fn counts_and_ping_answer(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    let empty = store.counts().await.unwrap();
    assert_eq!((empty.accounts, empty.groups, empty.terminals), (0, 0, 0));
    let anna = account(&store, "anna").await;
    account(&store, "ben").await;
    group(&store, anna, "Club").await;
    let phone = terminal(&store, anna, TerminalKind::Session, b"phone").await;
    terminal(&store, anna, TerminalKind::Session, b"laptop").await;
    store
        .revoke_terminal(anna, phone.id, super::fixtures::later(1))
        .await
        .unwrap();
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.accounts, counts.groups, counts.terminals), (2, 1, 1));
}
