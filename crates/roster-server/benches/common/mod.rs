//! Seeding shared by the benchmarks: a group filled through the store's own use cases, with
//! no password hashing (that is not what the benchmarks measure).

use roster_proto::api::{JoinPolicy, MembershipState};
use roster_server::domain::card::Card;
use roster_server::domain::ids::{AccountId, GroupId};
use roster_server::domain::model::Joining;
use roster_server::domain::model::{Account, Group};
use roster_server::domain::ports::{AccountStore, DirectoryStore, GroupStore};
use roster_server::domain::share_policy::ShareFields;
use roster_server::store::sqlite::SqliteStore;
use std::time::Instant;
use time::OffsetDateTime;

mod card;
pub(crate) use card::parse_card;

/// A seeded group: its id and its members in creation order, the owner first.
pub(crate) struct SeededGroup {
    #[allow(dead_code)] // the carddav benchmark reaches the group through its member's books
    pub(crate) group: GroupId,
    pub(crate) members: Vec<AccountId>,
}

/// Creates `members` accounts with `card(i)` each; the first owns one group, the others join
/// it sharing `share`.
pub(crate) async fn seed_group(
    store: &SqliteStore,
    members: usize,
    card: impl Fn(usize) -> Card,
    share: ShareFields,
) -> SeededGroup {
    let now = OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut ids = Vec::with_capacity(members);
    for i in 0..members.max(1) {
        let account = Account {
            id: AccountId::random(),
            login: format!("member{i}"),
            display_name: format!("Member {i}"),
            created_at: now,
        };
        store.create_account(&account, "not a hash").await.unwrap();
        store
            .set_card(account.id, &card(i), 0, ShareFields::ALL, now)
            .await
            .unwrap();
        ids.push(account.id);
    }
    let group = Group {
        id: GroupId::random(),
        name: "Bench".into(),
        description: String::new(),
        owner_id: ids[0],
        join_policy: JoinPolicy::InviteOnly,
        member_limit: 200_000,
        version: 1,
        floor: 0,
        member_count: 1,
        created_at: now,
    };
    store.create_group(&group, ShareFields::default_policy()).await.unwrap();
    for member in &ids[1..] {
        let joining = Joining {
            group_id: group.id,
            account_id: *member,
            state: MembershipState::Active,
            share,
            invite: None,
            at: now,
        };
        store.join(&joining).await.unwrap();
    }
    eprintln!("seeded {members} members in {:.1?}", started.elapsed());
    SeededGroup {
        group: group.id,
        members: ids,
    }
}
