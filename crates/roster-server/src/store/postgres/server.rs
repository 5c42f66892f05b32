//! [`ServerStore`] on PostgreSQL: the server's keys and values, totals and the ping.

use super::{PgStore, internal};
use crate::domain::Result;
use crate::domain::model::Counts;
use crate::domain::ports::ServerStore;
use async_trait::async_trait;

#[async_trait]
impl ServerStore for PgStore {
    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        // Of concurrent first starts (on any instance), the insert that commits first wins;
        // the others wait for it, insert nothing and read the winner's key.
        sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(internal)
    }

    async fn server_value(&self, name: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)
    }

    async fn set_server_value(&self, name: &str, value: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(internal)?;
        Ok(())
    }

    async fn counts(&self) -> Result<Counts> {
        let (accounts, groups, terminals): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM groups), \
             (SELECT COUNT(*) FROM terminals WHERE revoked_at IS NULL)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(internal)?;
        Ok(Counts {
            accounts: u64::try_from(accounts).unwrap_or(0),
            groups: u64::try_from(groups).unwrap_or(0),
            terminals: u64::try_from(terminals).unwrap_or(0),
        })
    }
}
