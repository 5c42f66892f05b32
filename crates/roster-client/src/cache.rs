//! The local cache (SQLite, inside the book folder): the book's owner, each group's cursor,
//! and each contact Roster wrote with the card it wrote. Knows nothing of files or HTTP.

use crate::error::{Error, Result};
use roster_proto::api::CardView;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, sqlite::SqliteRow};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// A group as the cache remembers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedGroup {
    pub(crate) id: Uuid,
    pub(crate) name: String,
    pub(crate) cursor: i64,
}

/// A contact as the cache remembers it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CachedContact {
    pub(crate) group_id: Uuid,
    pub(crate) group_name: String,
    pub(crate) account_id: Uuid,
    pub(crate) card: CardView,
}

/// The cache database.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    pool: SqlitePool,
    path: PathBuf,
}

impl Cache {
    /// Opens (creating and migrating) the cache at `path`.
    pub(crate) async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // A rollback journal leaves no -wal/-shm files lying next to the contacts.
            .journal_mode(SqliteJournalMode::Delete)
            .foreign_keys(true);
        let cache_error = |source| Error::Cache {
            path: path.display().to_string(),
            source: Box::new(source),
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(cache_error)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| cache_error(e.into()))?;
        Ok(Cache {
            pool,
            path: path.to_path_buf(),
        })
    }

    fn error(&self) -> impl FnOnce(sqlx::Error) -> Error + '_ {
        |source| Error::Cache {
            path: self.path.display().to_string(),
            source: Box::new(source),
        }
    }

    /// The server and account whose book this is, once set.
    pub(crate) async fn owner(&self) -> Result<Option<(String, Uuid)>> {
        let row = sqlx::query("SELECT server, account_id FROM owner WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(self.error())?;
        Ok(row.and_then(|r| {
            let server: String = r.get(0);
            let account: String = r.get(1);
            account.parse().ok().map(|a| (server, a))
        }))
    }

    /// Records the book's owner.
    pub(crate) async fn set_owner(&self, server: &str, account: Uuid) -> Result<()> {
        sqlx::query("INSERT OR REPLACE INTO owner (id, server, account_id) VALUES (1, ?, ?)")
            .bind(server)
            .bind(account.to_string())
            .execute(&self.pool)
            .await
            .map_err(self.error())?;
        Ok(())
    }

    /// Every group the book holds.
    pub(crate) async fn groups(&self) -> Result<Vec<CachedGroup>> {
        let rows = sqlx::query("SELECT group_id, name, cursor FROM groups ORDER BY name, group_id")
            .fetch_all(&self.pool)
            .await
            .map_err(self.error())?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let id: String = r.get(0);
                Some(CachedGroup {
                    id: id.parse().ok()?,
                    name: r.get(1),
                    cursor: r.get(2),
                })
            })
            .collect())
    }

    /// Adds a group at cursor 0, or renames it, keeping its cursor.
    pub(crate) async fn put_group(&self, id: Uuid, name: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO groups (group_id, name) VALUES (?, ?) ON CONFLICT (group_id) DO UPDATE SET name = excluded.name",
        )
        .bind(id.to_string())
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(self.error())?;
        Ok(())
    }

    /// Stores how far the group is synced.
    pub(crate) async fn set_cursor(&self, id: Uuid, cursor: i64) -> Result<()> {
        sqlx::query("UPDATE groups SET cursor = ? WHERE group_id = ?")
            .bind(cursor)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(self.error())?;
        Ok(())
    }

    /// Forgets a group and its contacts.
    pub(crate) async fn delete_group(&self, id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM groups WHERE group_id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(self.error())?;
        Ok(())
    }

    /// The card Roster last wrote for a contact of a group, if it wrote one.
    pub(crate) async fn contact(&self, group: Uuid, account: Uuid) -> Result<Option<CardView>> {
        let row = sqlx::query("SELECT card FROM contacts WHERE group_id = ? AND account_id = ?")
            .bind(group.to_string())
            .bind(account.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(self.error())?;
        // A card this version cannot read is treated as unknown, so the next write replaces it.
        Ok(row.and_then(|r| serde_json::from_str(r.get::<&str, _>(0)).ok()))
    }

    /// Records that Roster owns (and writes) this contact's file, with its card.
    pub(crate) async fn put_contact(&self, group: Uuid, account: Uuid, card: &CardView) -> Result<()> {
        let json = serde_json::to_string(card).map_err(|e| Error::Server(format!("cannot encode a card: {e}")))?;
        sqlx::query(
            "INSERT INTO contacts (group_id, account_id, card) VALUES (?, ?, ?) \
             ON CONFLICT (group_id, account_id) DO UPDATE SET card = excluded.card",
        )
        .bind(group.to_string())
        .bind(account.to_string())
        .bind(json)
        .execute(&self.pool)
        .await
        .map_err(self.error())?;
        Ok(())
    }

    /// Forgets a contact.
    pub(crate) async fn delete_contact(&self, group: Uuid, account: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM contacts WHERE group_id = ? AND account_id = ?")
            .bind(group.to_string())
            .bind(account.to_string())
            .execute(&self.pool)
            .await
            .map_err(self.error())?;
        Ok(())
    }

    /// The accounts whose files Roster wrote in a group.
    pub(crate) async fn accounts_of(&self, group: Uuid) -> Result<Vec<Uuid>> {
        let rows = sqlx::query("SELECT account_id FROM contacts WHERE group_id = ?")
            .bind(group.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(self.error())?;
        Ok(rows.iter().filter_map(|r| r.get::<&str, _>(0).parse().ok()).collect())
    }

    /// Every contact, ordered by group name.
    pub(crate) async fn contacts(&self) -> Result<Vec<CachedContact>> {
        let rows = sqlx::query(
            "SELECT c.group_id, g.name, c.account_id, c.card FROM contacts c \
             JOIN groups g ON g.group_id = c.group_id ORDER BY g.name, c.group_id, c.account_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.error())?;
        Ok(rows.iter().filter_map(read_contact).collect())
    }

    /// Closes the database so that its file is complete on disk.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

fn read_contact(row: &SqliteRow) -> Option<CachedContact> {
    Some(CachedContact {
        group_id: row.get::<&str, _>(0).parse().ok()?,
        group_name: row.get(1),
        account_id: row.get::<&str, _>(2).parse().ok()?,
        card: serde_json::from_str(row.get::<&str, _>(3)).ok()?,
    })
}
