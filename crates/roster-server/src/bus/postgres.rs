//! The bus across instances that share one PostgreSQL database: LISTEN/NOTIFY on one
//! channel, through two connections of its own (one sends, one listens), independent of the
//! store's pool.
//!
//! A notification is at most a few kilobytes of [`super::wire`] text and is lost when no
//! listener is connected: a listener that loses its connection reconnects, listens again,
//! then tells every subscriber here that it missed some, so that they catch up from the log.

use super::relay::{Backoff, Carrier, Inbound, Relay, Tasks};
use crate::domain::ports::{Bus, Event, Subscription};
use anyhow::Context as _;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};
use std::str::FromStr;
use std::time::Duration;

/// The channel instances share unless told otherwise.
pub const DEFAULT_CHANNEL: &str = "roster_bus";

/// The `application_name` of the listening connection, to tell it apart in
/// `pg_stat_activity`.
pub const LISTENER_NAME: &str = "roster-bus-listener";

/// How long a connection may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL refuses a notification payload of 8000 bytes or more.
const PAYLOAD_LIMIT: usize = 7900;

/// Announcements shared through PostgreSQL's LISTEN/NOTIFY.
#[derive(Debug)]
pub struct PgBus {
    relay: Relay,
    _tasks: Tasks,
}

impl PgBus {
    /// Connects to the database at `url` and listens on `channel`; fails if either connection
    /// cannot be made now (later losses are reconnected).
    pub async fn connect(url: &str, channel: &str) -> anyhow::Result<PgBus> {
        // A channel is an identifier: PostgreSQL truncates longer ones, and two channels
        // differing only past the cut would hear each other.
        anyhow::ensure!(
            !channel.is_empty() && channel.len() < 64,
            "a PostgreSQL bus channel needs 1 to 63 bytes, not {}",
            channel.len()
        );
        let options = PgConnectOptions::from_str(url).context("the bus's PostgreSQL URL does not parse")?;
        let sender = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options.clone().application_name("roster-bus"))
            .await
            .context("cannot connect the bus to PostgreSQL")?;
        let listening = Listening {
            options: options.application_name(LISTENER_NAME),
            channel: channel.to_owned(),
        };
        let listener = listening
            .listen()
            .await
            .context("cannot listen for the bus on PostgreSQL")?;

        let (relay, inbound, outbound) = Relay::new();
        let mut tasks = Tasks::default();
        tasks.spawn(outbound.run(Notifier {
            pool: sender,
            channel: channel.to_owned(),
        }));
        tasks.spawn(listening.run(listener, inbound));
        Ok(PgBus { relay, _tasks: tasks })
    }
}

/// The channel of the installation at `url`: [`DEFAULT_CHANNEL`] in the `public` schema, and
/// one per schema otherwise, so that installations sharing a database in schemas of their own
/// (selected by the URL's `search_path`) do not hear each other.
pub async fn channel_of(url: &str) -> anyhow::Result<String> {
    let options = PgConnectOptions::from_str(url).context("the bus's PostgreSQL URL does not parse")?;
    let mut connection = options
        .application_name("roster-bus")
        .connect()
        .await
        .context("cannot connect the bus to PostgreSQL")?;
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut connection)
        .await
        .context("cannot read the bus's schema")?;
    let _ = connection.close().await;
    Ok(channel_for_schema(schema.as_deref()))
}

fn channel_for_schema(schema: Option<&str>) -> String {
    match schema {
        None | Some("public") => DEFAULT_CHANNEL.to_owned(),
        Some(schema) => {
            let tail: String = schema
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut channel = format!("{DEFAULT_CHANNEL}_{tail}");
            channel.truncate(63);
            channel
        }
    }
}

impl Bus for PgBus {
    fn publish(&self, event: Event) {
        self.relay.publish(event);
    }

    fn subscribe(&self) -> Subscription {
        self.relay.subscribe()
    }
}

/// Sends messages as notifications, all of one batch in one statement.
struct Notifier {
    pool: PgPool,
    channel: String,
}

impl Carrier for Notifier {
    const LIMIT: usize = PAYLOAD_LIMIT;

    async fn carry(&mut self, messages: &[String]) -> anyhow::Result<()> {
        // Notifications of one transaction arrive in order; identical ones would be merged,
        // but no two messages of one batch are identical.
        sqlx::query("SELECT pg_notify($1, message) FROM unnest($2::text[]) AS message")
            .bind(&self.channel)
            .bind(messages)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// How to (re)connect the listening connection.
struct Listening {
    options: PgConnectOptions,
    channel: String,
}

impl Listening {
    /// A fresh connection listening on the channel.
    async fn listen(&self) -> sqlx::Result<PgListener> {
        // A pool of its own, of one connection, for this listener alone: a dead connection
        // goes with its pool, and the next listener starts clean.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(self.options.clone())
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(&self.channel).await?;
        Ok(listener)
    }

    /// Forwards notifications until the bus is dropped, reconnecting after any loss.
    async fn run(self, mut listener: PgListener, inbound: Inbound) {
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => inbound.receive(notification.payload()),
                // sqlx has already reconnected and listens again.
                Ok(None) => {
                    tracing::warn!(channel = self.channel, "bus listener reconnected to PostgreSQL");
                    inbound.missed();
                }
                Err(error) => {
                    tracing::warn!(
                        ?error,
                        channel = self.channel,
                        "bus listener lost PostgreSQL; reconnecting"
                    );
                    drop(listener);
                    listener = self.relisten().await;
                    tracing::warn!(channel = self.channel, "bus listener reconnected to PostgreSQL");
                    // Only now: a subscriber that catches up before the listener is back
                    // could miss what is announced in between.
                    inbound.missed();
                }
            }
        }
    }

    /// Listens again, waiting longer after each failure.
    async fn relisten(&self) -> PgListener {
        let mut back_off = Backoff::new();
        loop {
            back_off.wait().await;
            match self.listen().await {
                Ok(listener) => return listener,
                Err(error) => tracing::warn!(?error, channel = self.channel, "bus listener cannot reconnect yet"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schema_has_a_channel_of_its_own_within_the_identifier_limit() {
        assert_eq!(channel_for_schema(None), DEFAULT_CHANNEL);
        assert_eq!(channel_for_schema(Some("public")), DEFAULT_CHANNEL);
        assert_eq!(channel_for_schema(Some("tenant_7")), "roster_bus_tenant_7");
        assert_eq!(channel_for_schema(Some("Ünï Côde")), "roster_bus__n__c_de");
        let long = channel_for_schema(Some(&"x".repeat(100)));
        assert_eq!(long.len(), 63);
        assert_ne!(channel_for_schema(Some("a")), channel_for_schema(Some("b")));
    }
}
