//! Seeding large directories fast, for benchmarks and the load tool: accounts, their cards and
//! one group written in batches of rows, as the store's own writes would leave them, instead of
//! one use case (and one argon2 hash) per account. Every account gets the same password hash,
//! computed once by the caller, so seeded accounts can still log in.
//!
//! Not for production data: nothing here checks a rule the domain enforces (limits, unique
//! logins beyond the database's constraints); it writes what a valid history would have left.

use crate::domain::card::Card;
use crate::domain::ids::{AccountId, GroupId};
use crate::domain::share_policy::ShareFields;
use crate::store::Database;
use crate::store::migrate::{Side, Table, Value};
use anyhow::Context;
use time::OffsetDateTime;

/// Rows written per transaction.
const CHUNK: usize = 10_000;

/// What was seeded.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Every account, in creation order (`member0`, `member1`, …).
    pub accounts: Vec<AccountId>,
    /// The group: owned by the first account, with the first `group_members` as active members.
    pub group: GroupId,
    /// The group's version: one change per member's join.
    pub version: i64,
}

/// Writes rows of several tables (in the order given) in one transaction.
async fn write(database: &Database, tables: Vec<(&str, Vec<Vec<Value>>)>) -> anyhow::Result<()> {
    let mut side = Side::writer(database).await?;
    for (name, rows) in tables {
        let table = Table::named(name).with_context(|| format!("no table {name}"))?;
        side.insert(table, rows).await?;
    }
    side.commit().await
}

/// Seeds `accounts` accounts (logins `member0`…, each with `card(i)` and `password_hash`) and
/// one group that the first `group_members` of them belong to, sharing `share`, into an
/// empty (migrated) database.
pub async fn seed(
    database: &Database,
    accounts: usize,
    group_members: usize,
    password_hash: &str,
    card: impl Fn(usize) -> Card,
    share: ShareFields,
) -> anyhow::Result<Seeded> {
    let accounts = accounts.max(1);
    let group_members = group_members.clamp(1, accounts);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let ids: Vec<AccountId> = (0..accounts).map(|_| AccountId::random()).collect();

    for (chunk, ids) in ids.chunks(CHUNK).enumerate() {
        let mut accounts = Vec::with_capacity(ids.len());
        let mut cards = Vec::with_capacity(ids.len());
        let mut keys = Vec::new();
        for (offset, id) in ids.iter().enumerate() {
            let i = chunk * CHUNK + offset;
            accounts.push(vec![
                Value::Id(id.0),
                Value::Text(format!("member{i}")),
                Value::Text(format!("Member {i}")),
                Value::Text(password_hash.to_owned()),
                Value::Int(now),
            ]);
            let card = card(i);
            cards.push(vec![
                Value::Id(id.0),
                Value::Text(serde_json::to_string(&card)?),
                Value::Int(1),
                Value::Text(card.search_name()),
                Value::Int(now),
            ]);
            let mut own: Vec<String> = card.phones.iter().flat_map(|p| p.number.search_keys()).collect();
            own.sort();
            own.dedup();
            keys.extend(own.into_iter().map(|key| vec![Value::Text(key), Value::Id(id.0)]));
        }
        write(
            database,
            vec![("accounts", accounts), ("cards", cards), ("card_phone_keys", keys)],
        )
        .await?;
    }

    let group = GroupId::random();
    let version = i64::try_from(group_members)?;
    write(
        database,
        vec![(
            "groups",
            vec![vec![
                Value::Id(group.0),
                Value::Text("Bench".into()),
                Value::Text(String::new()),
                Value::Id(ids[0].0),
                Value::Text("invite_only".into()),
                Value::Int(version.max(200_000)),
                Value::Int(version),
                Value::Int(version),
                Value::Int(0),
                Value::Int(now),
            ]],
        )],
    )
    .await?;
    for (chunk, members) in ids[..group_members].chunks(CHUNK).enumerate() {
        let mut memberships = Vec::with_capacity(members.len());
        let mut changes = Vec::with_capacity(members.len());
        for (offset, id) in members.iter().enumerate() {
            let i = chunk * CHUNK + offset;
            let joined = i64::try_from(i)? + 1;
            let (role, shared) = if i == 0 {
                ("owner", ShareFields::default_policy())
            } else {
                ("member", share)
            };
            memberships.push(vec![
                Value::Id(group.0),
                Value::Id(id.0),
                Value::Text(role.into()),
                Value::Text("active".into()),
                Value::Int(shared.bits()),
                Value::Int(now),
                Value::Int(joined),
            ]);
            changes.push(vec![
                Value::Id(group.0),
                Value::Int(joined),
                Value::Id(id.0),
                Value::Text("upsert".into()),
                Value::Int(now),
            ]);
        }
        write(database, vec![("memberships", memberships), ("changes", changes)]).await?;
    }
    crate::store::migrate::analyze(database).await?;
    Ok(Seeded {
        accounts: ids,
        group,
        version,
    })
}

/// A password hash as the server makes it (argon2id), to give every seeded account.
pub async fn password_hash(password: &str) -> anyhow::Result<String> {
    use crate::domain::password::{PasswordSettings, Passwords};
    Ok(Passwords::new(PasswordSettings::default()).hash(password).await?)
}
