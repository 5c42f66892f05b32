//! Small builders of the records the contract stores, so that each test reads as its story.

use roster_proto::api::{CardInput, JoinPolicy, MembershipState, TerminalKind};
use roster_server::domain::book::Book;
use roster_server::domain::card::{Card, CardRules};
use roster_server::domain::ids::{AccountId, GroupId, InviteId, RegistrationId, TerminalId};
use roster_server::domain::model::{Account, Group, Invite, Joining, NewTerminal, Terminal};
use roster_server::domain::ports::{Refusal, Store, StoreError};
use roster_server::domain::push::{PushRegistration, Subscription};
use roster_server::domain::share_policy::ShareFields;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// A fixed moment, in whole seconds as stores keep time.
pub(crate) fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// `seconds` after [`t0`].
pub(crate) fn later(seconds: i64) -> OffsetDateTime {
    t0() + Duration::seconds(seconds)
}

/// The refusal of a refused write; panics on success or failure.
#[track_caller]
pub(crate) fn refusal<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Refusal {
    match result {
        Err(StoreError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A new account with this login (display name: the login, capitalised by nobody).
pub(crate) async fn account(store: &Arc<dyn Store>, login: &str) -> AccountId {
    let account = Account {
        id: AccountId::random(),
        login: login.into(),
        display_name: format!("{login} display"),
        created_at: t0(),
    };
    store
        .create_account(&account, &format!("hash of {login}"))
        .await
        .unwrap();
    account.id
}

/// A group owned by `owner`, sharing everything by default, with this member limit.
pub(crate) async fn group_limited(store: &Arc<dyn Store>, owner: AccountId, name: &str, limit: u32) -> GroupId {
    let group = Group {
        id: GroupId::random(),
        name: name.into(),
        description: format!("{name} description"),
        owner_id: owner,
        join_policy: JoinPolicy::InviteOnly,
        member_limit: limit,
        version: 0,
        floor: 0,
        member_count: 1,
        created_at: t0(),
    };
    store.create_group(&group, ShareFields::default_policy()).await.unwrap();
    group.id
}

/// A group owned by `owner` with room for 100 members.
pub(crate) async fn group(store: &Arc<dyn Store>, owner: AccountId, name: &str) -> GroupId {
    group_limited(store, owner, name, 100).await
}

/// A joining without an invite.
pub(crate) fn joining(group: GroupId, account: AccountId, state: MembershipState) -> Joining {
    Joining {
        group_id: group,
        account_id: account,
        state,
        share: ShareFields::default_policy(),
        invite: None,
        at: t0(),
    }
}

/// Makes `account` an active member of `group`.
pub(crate) async fn join(store: &Arc<dyn Store>, group: GroupId, account: AccountId) {
    store
        .join(&joining(group, account, MembershipState::Active))
        .await
        .unwrap();
}

/// Records `account`'s pending request to join `group`.
pub(crate) async fn request(store: &Arc<dyn Store>, group: GroupId, account: AccountId) {
    store
        .join(&joining(group, account, MembershipState::Pending))
        .await
        .unwrap();
}

/// An invite to `group` by `by`, stored under `code_hash`.
pub(crate) async fn invite(
    store: &Arc<dyn Store>,
    group: GroupId,
    by: AccountId,
    code_hash: &[u8],
    max_uses: Option<u32>,
    expires_at: OffsetDateTime,
) -> Invite {
    let invite = Invite {
        id: InviteId::random(),
        group_id: group,
        created_by: by,
        created_at: t0(),
        expires_at,
        max_uses,
        uses: 0,
    };
    store.create_invite(&invite, code_hash).await.unwrap();
    invite
}

/// A terminal of `account` holding the credential with this hash.
pub(crate) async fn terminal(
    store: &Arc<dyn Store>,
    account: AccountId,
    kind: TerminalKind,
    token_hash: &[u8],
) -> Terminal {
    let terminal = Terminal {
        id: TerminalId::random(),
        account_id: account,
        name: format!("{kind:?} terminal"),
        kind,
        created_at: t0(),
        last_seen_at: None,
        group_books: None,
        client: None,
    };
    store
        .create_terminal(&NewTerminal {
            terminal: terminal.clone(),
            token_hash: token_hash.to_vec(),
        })
        .await
        .unwrap();
    terminal
}

/// A registration of `terminal` for `book`, pushed to a resource named `resource`, lapsing an
/// hour after [`t0`].
pub(crate) fn registration(account: AccountId, terminal: TerminalId, book: Book, resource: &str) -> PushRegistration {
    PushRegistration {
        id: RegistrationId::random(),
        terminal_id: terminal,
        account_id: account,
        book,
        subscription: Subscription {
            push_resource: format!("https://push.example/{resource}"),
            public_key: vec![4; 65],
            auth_secret: vec![7; 16],
        },
        expires_at: later(3600),
    }
}

/// A valid card with this name and phone number (read in Germany).
pub(crate) fn card(name: &str, phone: &str) -> Card {
    let input: CardInput = serde_json::from_value(serde_json::json!({
        "formatted_name": name,
        "phones": [{"number": phone}],
    }))
    .unwrap();
    let rules = CardRules {
        region: "DE".parse().unwrap(),
        photo_max_bytes: 1024,
    };
    Card::parse(&input, &rules).unwrap()
}

/// The versions of a group's whole log, in order.
pub(crate) async fn logged_versions(store: &Arc<dyn Store>, group: GroupId) -> Vec<i64> {
    store
        .changes_since(group, 0, u32::MAX)
        .await
        .unwrap()
        .iter()
        .map(|change| change.version)
        .collect()
}

/// The group's current version.
pub(crate) async fn version(store: &Arc<dyn Store>, group: GroupId) -> i64 {
    store.group(group).await.unwrap().unwrap().version
}
