//! The bus across instances through a NATS server, for deployments that already run one:
//! core publish/subscribe on one subject, no JetStream (the change log is the truth, so a
//! lost message only delays).
//!
//! The client reconnects on its own, with back-off; once it is back and subscribed again,
//! every subscriber here hears that it missed some, and so it does when the client had to
//! drop messages it could not hand over fast enough.

use super::relay::{Carrier, Inbound, Relay, Tasks};
use crate::domain::ports::{Bus, Event, Subscription};
use anyhow::Context as _;
use async_nats::{Client, ConnectOptions, Subject};
use futures_util::StreamExt as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// The subject instances share unless told otherwise.
pub const DEFAULT_SUBJECT: &str = "roster.bus";

/// Well below the 1 MB a NATS server takes by default.
const PAYLOAD_LIMIT: usize = 32 * 1024;

/// Announcements shared through a NATS server.
#[derive(Debug)]
pub struct NatsBus {
    relay: Relay,
    _tasks: Tasks,
}

impl NatsBus {
    /// Connects to the NATS server at `url` and subscribes to `subject`; fails if the server
    /// cannot be reached now (later losses are reconnected).
    pub async fn connect(url: &str, subject: &str) -> anyhow::Result<NatsBus> {
        let subject = Subject::from(subject);
        let (relay, inbound, outbound) = Relay::new();
        let lost = Arc::new(AtomicBool::new(false));
        let back = Arc::new(Notify::new());
        let connection = Connection {
            inbound: inbound.clone(),
            lost: lost.clone(),
            back: back.clone(),
        };
        let client = ConnectOptions::new()
            .name("roster-bus")
            // This instance has already delivered what it publishes.
            .no_echo()
            .connection_timeout(Duration::from_secs(5))
            .event_callback(move |event| {
                let connection = connection.clone();
                async move { connection.changed(event) }
            })
            .connect(url)
            .await
            .context("cannot connect the bus to NATS")?;
        let subscriber = client
            .subscribe(subject.clone())
            .await
            .context("cannot subscribe to the bus's NATS subject")?;
        // Once the server has answered, it knows the subscription: what any instance
        // publishes after `connect` returns reaches this one.
        client
            .flush()
            .await
            .context("cannot subscribe to the bus's NATS subject")?;

        let mut tasks = Tasks::default();
        tasks.spawn(outbound.run(Publisher {
            client: client.clone(),
            subject,
        }));
        tasks.spawn(async move {
            let mut subscriber = subscriber;
            loop {
                tokio::select! {
                    message = subscriber.next() => match message {
                        Some(message) => match std::str::from_utf8(&message.payload) {
                            Ok(text) => inbound.receive(text),
                            Err(_) => tracing::warn!("ignored a bus message that is not UTF-8"),
                        },
                        None => return,
                    },
                    () = back.notified() => {
                        // The client subscribes again before it handles our flush: once that
                        // is answered, everything announced from now on reaches us.
                        if let Err(error) = client.flush().await {
                            tracing::warn!(?error, "cannot flush the bus's NATS connection");
                        }
                        tracing::warn!("bus reconnected to NATS");
                        inbound.missed();
                    }
                }
            }
        });
        Ok(NatsBus { relay, _tasks: tasks })
    }
}

impl Bus for NatsBus {
    fn publish(&self, event: Event) {
        self.relay.publish(event);
    }

    fn subscribe(&self) -> Subscription {
        self.relay.subscribe()
    }
}

/// What the client's connection events mean for subscribers.
#[derive(Clone)]
struct Connection {
    inbound: Inbound,
    lost: Arc<AtomicBool>,
    back: Arc<Notify>,
}

impl Connection {
    fn changed(&self, event: async_nats::Event) {
        match event {
            async_nats::Event::Disconnected => {
                tracing::warn!("bus lost NATS; reconnecting");
                self.lost.store(true, Ordering::SeqCst);
            }
            // The first connection is no reconnection.
            async_nats::Event::Connected if self.lost.swap(false, Ordering::SeqCst) => self.back.notify_one(),
            async_nats::Event::Connected => {}
            async_nats::Event::SlowConsumer(_) => {
                tracing::warn!("bus dropped NATS messages it could not hand over in time");
                self.inbound.missed();
            }
            other => tracing::warn!(event = %other, "bus NATS connection"),
        }
    }
}

/// Publishes messages on the subject.
struct Publisher {
    client: Client,
    subject: Subject,
}

impl Carrier for Publisher {
    const LIMIT: usize = PAYLOAD_LIMIT;

    async fn carry(&mut self, messages: &[String]) -> anyhow::Result<()> {
        for message in messages {
            self.client
                .publish(self.subject.clone(), message.clone().into())
                .await?;
        }
        Ok(())
    }
}
