//! Implementations of the domain's bus port ([`crate::domain::ports::Bus`]): the in-process
//! one for a single server instance, and two that carry announcements across instances —
//! PostgreSQL's LISTEN/NOTIFY and, with the `nats` feature, a NATS server — and [`open`],
//! which picks one from the configuration.

pub mod local;
#[cfg(feature = "nats")]
pub mod nats;
pub mod postgres;
mod relay;
mod wire;

use crate::domain::ports::Bus;
use local::LocalBus;
use postgres::PgBus;
use std::sync::Arc;

/// Opens the configured bus: `local`; a `postgres://` or `postgresql://` URL; a `nats://`
/// URL; or, when none is configured, the database's own (LISTEN/NOTIFY on PostgreSQL, the
/// in-process bus otherwise, since an embedded database has one instance).
pub async fn open(spec: Option<&str>, database_url: &str) -> anyhow::Result<Arc<dyn Bus>> {
    let spec = match spec.map(str::trim).filter(|spec| !spec.is_empty()) {
        Some(spec) => spec,
        None if matches!(scheme(database_url), Some("postgres" | "postgresql")) => database_url,
        None => "local",
    };
    if spec == "local" {
        return Ok(Arc::new(LocalBus::default()));
    }
    match scheme(spec) {
        Some("postgres" | "postgresql") => {
            let channel = postgres::channel_of(spec).await?;
            Ok(Arc::new(PgBus::connect(spec, &channel).await?))
        }
        Some("nats") => open_nats(spec).await,
        // Only the scheme: the rest of a URL may hold a password.
        Some(other) => anyhow::bail!("unknown bus {other}://…: {EXPECTED}"),
        None => anyhow::bail!("unknown bus: {EXPECTED}"),
    }
}

/// What a bus setting may be, for error messages.
const EXPECTED: &str = "the bus is `local`, a postgres:// or postgresql:// URL, or a nats:// URL";

#[cfg(feature = "nats")]
async fn open_nats(url: &str) -> anyhow::Result<Arc<dyn Bus>> {
    Ok(Arc::new(nats::NatsBus::connect(url, nats::DEFAULT_SUBJECT).await?))
}

#[cfg(not(feature = "nats"))]
async fn open_nats(_url: &str) -> anyhow::Result<Arc<dyn Bus>> {
    anyhow::bail!("a nats:// bus needs a roster built with the `nats` feature")
}

/// The scheme of a URL, if it has one.
fn scheme(url: &str) -> Option<&str> {
    url.split_once("://").map(|(scheme, _)| scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_embedded_database_or_local_opens_the_in_process_bus() {
        for (spec, database) in [
            (None, "sqlite:///tmp/roster.db"),
            (Some(""), "sqlite://roster.db"),
            (Some("local"), "postgres://nowhere.invalid/roster"),
        ] {
            let bus = open(spec, database).await.unwrap();
            let mut heard = bus.subscribe();
            let event = crate::domain::ports::Event::GroupRenamed {
                group: crate::domain::ids::GroupId::random(),
            };
            bus.publish(event);
            assert_eq!(heard.next().await, Some(crate::domain::ports::Heard::Event(event)));
        }
    }

    #[tokio::test]
    async fn an_unknown_bus_is_refused_without_echoing_its_url() {
        for spec in ["redis://user:secret@host", "kafka", "nats"] {
            let error = open(Some(spec), "sqlite://roster.db").await.err().unwrap().to_string();
            assert!(error.starts_with("unknown bus"), "{error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
