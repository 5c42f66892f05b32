//! Moving a whole installation from one database to another (`roster migrate-store`), e.g.
//! from the embedded SQLite file to PostgreSQL when a directory outgrows one box.
//!
//! Every table is copied row by row, column by column, in foreign-key order, from one
//! snapshot of the source (a read transaction on SQLite, `REPEATABLE READ READ ONLY` on
//! PostgreSQL) into one transaction on the target, which is committed only after the copy has
//! been read back and found equal: the row count and a checksum of every table, and a
//! checksum of every group's directory (its version, active members, their roles, share
//! choices and cards). Secrets, tokens' hashes, sync versions and server keys move as they
//! are, so terminals keep their credentials and cursors: a phone's next sync after the move
//! is incremental.
//!
//! The table list below is the schema's: a table or column that this list does not name, on
//! either side, stops the move before anything is written (a newer schema needs a newer
//! Roster), and so does a target that already holds any row.

use crate::store::{Database, DatabaseSettings, Migrate, redacted};
use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row, Sqlite, Transaction};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How a column's values are stored (the same shapes on both backends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A UUID (16-byte blob in SQLite, `uuid` in PostgreSQL).
    Id,
    /// Bytes (hashes, keys).
    Blob,
    Text,
    /// A 64-bit integer (times, counts, versions, share bits).
    Int,
    Bool,
}

/// A table as this build of Roster knows it.
#[derive(Debug)]
pub(super) struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Kind)],
}

impl Table {
    fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The table of this name.
    pub(super) fn named(name: &str) -> Option<&'static Table> {
        TABLES.iter().find(|table| table.name == name)
    }

    fn kinds(&self) -> Vec<Kind> {
        self.columns.iter().map(|(_, kind)| *kind).collect()
    }
}

use Kind::{Blob, Bool, Id, Int, Text};

/// Every table of the schema, parents before the tables that refer to them.
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "accounts",
        columns: &[
            ("id", Id),
            ("login", Text),
            ("display_name", Text),
            ("password_hash", Text),
            ("created_at", Int),
        ],
    },
    Table {
        name: "terminals",
        columns: &[
            ("id", Id),
            ("account_id", Id),
            ("name", Text),
            ("kind", Text),
            ("token_hash", Blob),
            ("created_at", Int),
            ("last_seen_at", Int),
            ("revoked_at", Int),
            ("group_books", Bool),
            ("client", Text),
        ],
    },
    Table {
        name: "cards",
        columns: &[
            ("account_id", Id),
            ("card", Text),
            ("revision", Int),
            ("search_name", Text),
            ("updated_at", Int),
        ],
    },
    Table {
        name: "card_phone_keys",
        columns: &[("key", Text), ("account_id", Id)],
    },
    Table {
        name: "groups",
        columns: &[
            ("id", Id),
            ("name", Text),
            ("description", Text),
            ("owner_id", Id),
            ("join_policy", Text),
            ("member_limit", Int),
            ("active_count", Int),
            ("version", Int),
            ("floor", Int),
            ("created_at", Int),
        ],
    },
    Table {
        name: "memberships",
        columns: &[
            ("group_id", Id),
            ("account_id", Id),
            ("role", Text),
            ("state", Text),
            ("share", Int),
            ("updated_at", Int),
            ("joined_version", Int),
        ],
    },
    Table {
        name: "changes",
        columns: &[
            ("group_id", Id),
            ("version", Int),
            ("subject_id", Id),
            ("kind", Text),
            ("at", Int),
        ],
    },
    Table {
        name: "invites",
        columns: &[
            ("id", Id),
            ("group_id", Id),
            ("code_hash", Blob),
            ("created_by", Id),
            ("created_at", Int),
            ("expires_at", Int),
            ("max_uses", Int),
            ("uses", Int),
            ("revoked_at", Int),
        ],
    },
    Table {
        name: "stream_tickets",
        columns: &[("ticket_hash", Blob), ("terminal_id", Id), ("expires_at", Int)],
    },
    Table {
        name: "directory_settings",
        columns: &[("account_id", Id), ("list_group_books", Bool)],
    },
    Table {
        name: "push_registrations",
        columns: &[
            ("id", Id),
            ("terminal_id", Id),
            ("account_id", Id),
            ("book", Text),
            ("group_id", Id),
            ("push_resource", Text),
            ("public_key", Blob),
            ("auth_secret", Blob),
            ("created_at", Int),
            ("expires_at", Int),
            ("told_token", Text),
            ("told_at_ms", Int),
        ],
    },
    Table {
        name: "refetches",
        columns: &[
            ("terminal_id", Id),
            ("book", Text),
            ("subject_id", Id),
            ("added_at", Int),
        ],
    },
    Table {
        name: "server_keys",
        columns: &[("name", Text), ("value", Blob)],
    },
    Table {
        name: "login_failures",
        columns: &[
            ("login", Text),
            ("client", Text),
            ("failures", Int),
            ("locked_until", Int),
            ("updated_at", Int),
        ],
    },
];

/// What a group's directory is made of: one row per active member, with the group's version.
const DIRECTORY: &str = "SELECT m.group_id, g.version, m.account_id, m.role, m.share, c.card, c.revision \
     FROM memberships m JOIN groups g ON g.id = m.group_id \
     LEFT JOIN cards c ON c.account_id = m.account_id WHERE m.state = 'active'";
const DIRECTORY_KINDS: &[Kind] = &[Id, Int, Id, Text, Int, Text, Int];

/// Rows inserted per statement (PostgreSQL allows 65,535 parameters, SQLite 32,766).
const BATCH: usize = 1000;

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Null,
    Id(Uuid),
    Blob(Vec<u8>),
    Text(String),
    Int(i64),
    Bool(bool),
}

impl Value {
    /// Feeds an unambiguous encoding of the value to a hash.
    fn hash_into(&self, hash: &mut Sha256) {
        let mut part = |tag: u8, bytes: &[u8]| {
            hash.update([tag]);
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        match self {
            Value::Null => part(0, &[]),
            Value::Id(id) => part(1, id.as_bytes()),
            Value::Blob(bytes) => part(2, bytes),
            Value::Text(text) => part(3, text.as_bytes()),
            Value::Int(n) => part(4, &n.to_le_bytes()),
            Value::Bool(b) => part(5, &[u8::from(*b)]),
        }
    }
}

fn row_digest(values: &[Value]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for value in values {
        value.hash_into(&mut hash);
    }
    hash.finalize().into()
}

/// A checksum of a set of rows, whatever order they were read in.
#[derive(Debug, Default)]
struct Checksum {
    rows: Vec<[u8; 32]>,
}

impl Checksum {
    fn add(&mut self, values: &[Value]) {
        self.rows.push(row_digest(values));
    }

    fn finish(mut self) -> (u64, String) {
        self.rows.sort_unstable();
        let mut hash = Sha256::new();
        for row in &self.rows {
            hash.update(row);
        }
        (self.rows.len() as u64, hex(&hash.finalize()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes a row of either backend by `kinds` (the same calls; only the row type differs).
macro_rules! decode {
    ($row:expr, $kinds:expr) => {
        $kinds
            .iter()
            .enumerate()
            .map(|(i, kind)| {
                Ok(match kind {
                    Id => $row.try_get::<Option<Uuid>, _>(i)?.map(Value::Id),
                    Blob => $row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Blob),
                    Text => $row.try_get::<Option<String>, _>(i)?.map(Value::Text),
                    Int => $row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
                    Bool => $row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
                }
                .unwrap_or(Value::Null))
            })
            .collect()
    };
}

fn decode_sqlite(row: &SqliteRow, kinds: &[Kind]) -> Result<Vec<Value>, sqlx::Error> {
    decode!(row, kinds)
}

fn decode_pg(row: &PgRow, kinds: &[Kind]) -> Result<Vec<Value>, sqlx::Error> {
    decode!(row, kinds)
}

/// Binds one value (a typed NULL for a missing one) to a query builder of either backend.
macro_rules! bind {
    ($builder:expr, $kind:expr, $value:expr) => {
        match ($value, $kind) {
            (Value::Id(v), _) => $builder.push_bind(v),
            (Value::Blob(v), _) => $builder.push_bind(v),
            (Value::Text(v), _) => $builder.push_bind(v),
            (Value::Int(v), _) => $builder.push_bind(v),
            (Value::Bool(v), _) => $builder.push_bind(v),
            (Value::Null, Id) => $builder.push_bind(None::<Uuid>),
            (Value::Null, Blob) => $builder.push_bind(None::<Vec<u8>>),
            (Value::Null, Text) => $builder.push_bind(None::<String>),
            (Value::Null, Int) => $builder.push_bind(None::<i64>),
            (Value::Null, Bool) => $builder.push_bind(None::<bool>),
        }
    };
}

/// One side of the move, inside its transaction.
pub(super) enum Side {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Side {
    /// A read-only snapshot of the source.
    async fn snapshot(database: &Database) -> anyhow::Result<Side> {
        Ok(match database {
            // A deferred transaction: its first read fixes the snapshot (WAL) for the rest.
            Database::Sqlite(store) => Side::Sqlite(store.pool().begin().await?),
            Database::Postgres(store) => Side::Postgres(
                store
                    .pool()
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// The one write transaction on the target.
    pub(super) async fn writer(database: &Database) -> anyhow::Result<Side> {
        Ok(match database {
            Database::Sqlite(store) => Side::Sqlite(store.pool().begin_with("BEGIN IMMEDIATE").await?),
            Database::Postgres(store) => Side::Postgres(store.pool().begin().await?),
        })
    }

    /// The rows a query returns, decoded by `kinds`.
    fn rows<'c>(&'c mut self, sql: String, kinds: &'c [Kind]) -> BoxStream<'c, Result<Vec<Value>, sqlx::Error>> {
        match self {
            Side::Sqlite(tx) => Box::pin(
                sqlx::query(AssertSqlSafe(sql))
                    .fetch(&mut **tx)
                    .and_then(move |row| std::future::ready(decode_sqlite(&row, kinds))),
            ),
            Side::Postgres(tx) => Box::pin(
                sqlx::query(AssertSqlSafe(sql))
                    .fetch(&mut **tx)
                    .and_then(move |row| std::future::ready(decode_pg(&row, kinds))),
            ),
        }
    }

    /// Every table (but sqlx's own) with its columns.
    async fn schema(&mut self) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        let sql = match self {
            Side::Sqlite(_) => {
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name != '_sqlx_migrations'"
            }
            Side::Postgres(_) => {
                "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
                 JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                 WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
                 AND c.table_name != '_sqlx_migrations'"
            }
        };
        let mut schema: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut rows = self.rows(sql.to_owned(), &[Text, Text]);
        while let Some(row) = rows.try_next().await? {
            if let [Value::Text(table), Value::Text(column)] = row.as_slice() {
                schema.entry(table.clone()).or_default().push(column.clone());
            }
        }
        for columns in schema.values_mut() {
            columns.sort();
        }
        Ok(schema)
    }

    async fn has_rows(&mut self, table: &Table) -> anyhow::Result<bool> {
        let sql = format!("SELECT CAST(1 AS BIGINT) FROM {} LIMIT 1", table.name);
        Ok(self.rows(sql, &[Int]).try_next().await?.is_some())
    }

    /// Inserts `rows`, [`BATCH`] to a statement (the backends bound a statement's parameters).
    pub(super) async fn insert(&mut self, table: &Table, mut rows: Vec<Vec<Value>>) -> anyhow::Result<()> {
        let head = format!("INSERT INTO {} ({}) ", table.name, table.column_list());
        let kinds = table.kinds();
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(BATCH));
            match self {
                Side::Sqlite(tx) => {
                    let mut builder = QueryBuilder::<Sqlite>::new(head.as_str());
                    builder.push_values(rows, |mut row, values| {
                        for (value, kind) in values.into_iter().zip(&kinds) {
                            bind!(row, *kind, value);
                        }
                    });
                    builder.build().execute(&mut **tx).await?;
                }
                Side::Postgres(tx) => {
                    let mut builder = QueryBuilder::<Postgres>::new(head.as_str());
                    builder.push_values(rows, |mut row, values| {
                        for (value, kind) in values.into_iter().zip(&kinds) {
                            bind!(row, *kind, value);
                        }
                    });
                    builder.build().execute(&mut **tx).await?;
                }
            }
            rows = rest;
        }
        Ok(())
    }

    /// Row count and checksum of a table.
    async fn checksum(&mut self, table: &Table) -> anyhow::Result<(u64, String)> {
        let kinds = table.kinds();
        let mut sum = Checksum::default();
        let mut rows = self.rows(format!("SELECT {} FROM {}", table.column_list(), table.name), &kinds);
        while let Some(row) = rows.try_next().await? {
            sum.add(&row);
        }
        Ok(sum.finish())
    }

    /// A checksum of every group's directory, by group.
    async fn directories(&mut self) -> anyhow::Result<BTreeMap<Uuid, String>> {
        let mut groups: BTreeMap<Uuid, Checksum> = BTreeMap::new();
        let mut rows = self.rows(DIRECTORY.to_owned(), DIRECTORY_KINDS);
        while let Some(row) = rows.try_next().await? {
            if let Some(Value::Id(group)) = row.first() {
                groups.entry(*group).or_default().add(&row);
            }
        }
        Ok(groups.into_iter().map(|(group, sum)| (group, sum.finish().1)).collect())
    }

    pub(super) async fn commit(self) -> anyhow::Result<()> {
        match self {
            Side::Sqlite(tx) => tx.commit().await?,
            Side::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// One table moved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableMoved {
    pub table: &'static str,
    pub rows: u64,
    /// SHA-256 over the table's rows, the same on both sides.
    pub checksum: String,
}

/// What a move did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    pub tables: Vec<TableMoved>,
    /// Groups whose directory was found equal on both sides.
    pub directories: usize,
}

/// Copies the installation at `from` into the empty database at `to` (created and migrated
/// if needed), verifies it, and commits it; `progress` hears of each table once it is copied.
/// The source is only read. Stop the servers on `from` first: writes after the snapshot are
/// not moved.
pub async fn migrate_store(
    from: &str,
    to: &str,
    progress: &mut (dyn FnMut(&TableMoved) + Send),
) -> anyhow::Result<Moved> {
    if from == to {
        bail!("--from and --to name the same database");
    }
    let settings = DatabaseSettings::default();
    let source = Database::open(from, &settings, Migrate::No)
        .await
        .with_context(|| format!("cannot open the source {}", redacted(from)))?;
    let migrations = source.migrations().await?;
    if !migrations.pending.is_empty() || !migrations.unknown.is_empty() {
        bail!(
            "the source {} is not at this Roster's schema (missing migrations {:?}, unknown {:?}): \
             move it with the Roster version that last served it, or start this one on it once",
            redacted(from),
            migrations.pending,
            migrations.unknown
        );
    }
    let target = Database::open(to, &settings, Migrate::Yes)
        .await
        .with_context(|| format!("cannot open the target {}", redacted(to)))?;

    let mut read = Side::snapshot(&source).await?;
    let mut write = Side::writer(&target).await?;
    check_schema(&mut read.schema().await?, "source", from)?;
    check_schema(&mut write.schema().await?, "target", to)?;
    for table in TABLES {
        if write.has_rows(table).await? {
            bail!(
                "the target {} already holds data (table {} has rows): migrate-store writes only \
                 into an empty database",
                redacted(to),
                table.name
            );
        }
    }

    let mut moved = Vec::new();
    for table in TABLES {
        let kinds = table.kinds();
        let mut sum = Checksum::default();
        let mut batch = Vec::with_capacity(BATCH);
        let mut rows = read.rows(format!("SELECT {} FROM {}", table.column_list(), table.name), &kinds);
        while let Some(row) = rows.try_next().await? {
            sum.add(&row);
            batch.push(row);
            if batch.len() == BATCH {
                write
                    .insert(table, std::mem::take(&mut batch))
                    .await
                    .with_context(|| format!("cannot write table {}", table.name))?;
            }
        }
        drop(rows);
        write
            .insert(table, batch)
            .await
            .with_context(|| format!("cannot write table {}", table.name))?;
        let (rows, checksum) = sum.finish();
        let (written, written_sum) = write.checksum(table).await?;
        if written != rows || written_sum != checksum {
            bail!(
                "table {} differs after the copy ({rows} rows read, {written} found): nothing was committed",
                table.name
            );
        }
        let table = TableMoved {
            table: table.name,
            rows,
            checksum,
        };
        progress(&table);
        moved.push(table);
    }

    let before = read.directories().await?;
    let after = write.directories().await?;
    if let Some(group) = before
        .iter()
        .find(|(group, sum)| after.get(*group) != Some(*sum))
        .map(|(group, _)| *group)
        .or_else(|| after.keys().find(|group| !before.contains_key(*group)).copied())
    {
        bail!("the directory of group {group} differs after the copy: nothing was committed");
    }
    write.commit().await.context("cannot commit the copy")?;
    drop(read);
    analyze(&target).await?;
    // A SQLite target is whole in its own file only once its log is checkpointed.
    target.close().await;
    source.close().await;
    Ok(Moved {
        tables: moved,
        directories: before.len(),
    })
}

/// Gives PostgreSQL's planner statistics of tables just filled, as after a restore: until
/// autovacuum gets to them, it would plan the directory's queries for empty tables.
pub(super) async fn analyze(database: &Database) -> anyhow::Result<()> {
    if let Database::Postgres(store) = database {
        let tables: Vec<&str> = TABLES.iter().map(|table| table.name).collect();
        sqlx::query(AssertSqlSafe(format!("ANALYZE {}", tables.join(", "))))
            .execute(store.pool())
            .await
            .context("cannot analyze the new tables")?;
    }
    Ok(())
}

/// Refuses a schema with a table or column this build does not move.
fn check_schema(schema: &mut BTreeMap<String, Vec<String>>, side: &str, url: &str) -> anyhow::Result<()> {
    for table in TABLES {
        let mut known: Vec<&str> = table.columns.iter().map(|(name, _)| *name).collect();
        known.sort_unstable();
        match schema.remove(table.name) {
            None => bail!("the {side} {} has no table {}", redacted(url), table.name),
            Some(columns) if columns != known => bail!(
                "table {} of the {side} {} has columns {columns:?}, this Roster moves {known:?}",
                table.name,
                redacted(url)
            ),
            Some(_) => {}
        }
    }
    if let Some(table) = schema.keys().next() {
        bail!(
            "the {side} {} has a table this Roster does not know how to move: {table}",
            redacted(url)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checksum_ignores_row_order_and_tells_values_apart() {
        let a = vec![Value::Text("ab".into()), Value::Text("c".into())];
        let b = vec![Value::Text("a".into()), Value::Text("bc".into())];
        let c = vec![Value::Null, Value::Int(0)];
        let d = vec![Value::Int(0), Value::Null];
        let sum = |rows: &[&Vec<Value>]| {
            let mut sum = Checksum::default();
            for row in rows {
                sum.add(row);
            }
            sum.finish()
        };
        assert_eq!(sum(&[&a, &c]), sum(&[&c, &a]));
        assert_ne!(sum(&[&a]), sum(&[&b]), "field boundaries count");
        assert_ne!(sum(&[&c]), sum(&[&d]));
        assert_ne!(sum(&[&a, &a]), sum(&[&a]), "a duplicated row counts");
        assert_ne!(
            sum(&[&vec![Value::Blob(b"x".to_vec())]]),
            sum(&[&vec![Value::Text("x".into())]]),
            "the type counts"
        );
    }
}
