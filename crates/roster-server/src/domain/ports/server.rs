//! The server port: what the server keeps about itself (its keys and values) and what
//! operations ask of storage (totals, a ping).

use crate::domain::Result;
use crate::domain::model::Counts;
use async_trait::async_trait;

/// Storage of the server's own keys and values.
#[async_trait]
pub trait ServerStore: Send + Sync + 'static {
    /// The secret stored under `name`, storing `candidate` first if there is none yet (so
    /// concurrent first starts agree on one).
    async fn server_key(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>>;
    /// A value the server keeps about itself (e.g. which phone rules read the stored numbers).
    async fn server_value(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Sets a value the server keeps about itself.
    async fn set_server_value(&self, name: &str, value: &[u8]) -> Result<()>;
    /// Totals for metrics.
    async fn counts(&self) -> Result<Counts>;
    /// Answers when the database does, reading no table.
    async fn ping(&self) -> Result<()>;
}
