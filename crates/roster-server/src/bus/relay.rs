//! What every cross-instance bus shares, whatever carries its messages: local delivery at
//! once, a bounded queue to one sending task, and the forwarding of other instances'
//! messages into the in-process channel. The transports (`postgres.rs`, `nats.rs`) only move
//! text.
//!
//! Nothing here may block or fail the caller of `publish`: a full queue drops the
//! announcement and counts it, since the change log, not the bus, is the truth.

use super::wire;
use crate::domain::ports::{Event, Fanout, Subscription};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How many announcements a subscriber may lag behind before it misses some.
const FANOUT_CAPACITY: usize = 4096;
/// How many announcements may wait for the sending task before new ones are dropped.
const QUEUE_CAPACITY: usize = 16_384;
/// How many queued announcements one round trip takes at most.
const BATCH: usize = 1024;
/// How often a failed send is tried before its announcements are dropped.
const ATTEMPTS: u32 = 5;

/// The metric counting announcements that never left this instance.
const DROPPED: &str = "roster_bus_dropped_total";

/// Moves messages to the other instances.
pub(crate) trait Carrier: Send + 'static {
    /// The largest message, in bytes, the transport takes.
    const LIMIT: usize;
    /// Sends the messages, in order, in as few round trips as the transport allows.
    fn carry(&mut self, messages: &[String]) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The publishing side of a cross-instance bus.
#[derive(Debug)]
pub(crate) struct Relay {
    fanout: Fanout,
    queue: mpsc::Sender<Event>,
}

impl Relay {
    /// A relay with a fresh process id, and its two halves for the transport's tasks.
    pub(crate) fn new() -> (Relay, Inbound, Outbound) {
        let instance = Uuid::new_v4();
        let fanout = Fanout::new(FANOUT_CAPACITY);
        let (queue, waiting) = mpsc::channel(QUEUE_CAPACITY);
        let inbound = Inbound {
            instance,
            fanout: fanout.clone(),
        };
        (Relay { fanout, queue }, inbound, Outbound { instance, waiting })
    }

    /// Delivers to this instance's subscribers at once and queues for the others.
    pub(crate) fn publish(&self, event: Event) {
        self.fanout.deliver(event);
        if self.queue.try_send(event).is_err() {
            metrics::counter!(DROPPED, "reason" => "full").increment(1);
            tracing::debug!(?event, "bus queue full; the other instances learn of it from the log");
        }
    }

    /// A new subscription on this instance.
    pub(crate) fn subscribe(&self) -> Subscription {
        self.fanout.subscribe()
    }
}

/// The receiving half: hands other instances' messages to this instance's subscribers.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    instance: Uuid,
    fanout: Fanout,
}

impl Inbound {
    /// Delivers the announcements of one message, unless this instance sent it.
    pub(crate) fn receive(&self, text: &str) {
        match wire::unpack(text) {
            Ok(message) if message.sender == self.instance => {}
            Ok(message) => message.events.into_iter().for_each(|event| self.fanout.deliver(event)),
            Err(why) => {
                let start: String = text.chars().take(80).collect();
                tracing::warn!(%why, message = start, "ignored a bus message that does not parse");
            }
        }
    }

    /// Tells every subscriber it missed announcements: the transport was cut off, or fell
    /// behind, and is receiving again.
    pub(crate) fn missed(&self) {
        self.fanout.missed();
    }
}

/// The sending half: the queue and the process id its messages carry.
#[derive(Debug)]
pub(crate) struct Outbound {
    instance: Uuid,
    waiting: mpsc::Receiver<Event>,
}

impl Outbound {
    /// Sends queued announcements, as many per round trip as are waiting, until the relay is
    /// dropped.
    pub(crate) async fn run<C: Carrier>(mut self, mut carrier: C) {
        let mut batch = Vec::with_capacity(BATCH);
        while self.waiting.recv_many(&mut batch, BATCH).await > 0 {
            let messages = wire::pack(self.instance, &batch, C::LIMIT);
            let mut back_off = Backoff::new();
            let mut attempt = 1;
            while let Err(error) = carrier.carry(&messages).await {
                if attempt == ATTEMPTS {
                    metrics::counter!(DROPPED, "reason" => "unsent").increment(batch.len() as u64);
                    tracing::warn!(?error, dropped = batch.len(), "cannot send on the bus; dropped");
                    break;
                }
                tracing::warn!(?error, attempt, "cannot send on the bus; trying again");
                back_off.wait().await;
                attempt += 1;
            }
            batch.clear();
        }
    }
}

/// Waits growing from 100 ms to 10 s between tries of something that failed.
#[derive(Debug)]
pub(crate) struct Backoff(Duration);

impl Backoff {
    /// The first wait is the shortest.
    pub(crate) fn new() -> Self {
        Backoff(Duration::from_millis(100))
    }

    /// Waits, and doubles the next wait.
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_secs(10));
    }
}

/// A bus's background tasks, ended when the bus is dropped.
#[derive(Debug, Default)]
pub(crate) struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    /// Runs a task until the bus is dropped.
    pub(crate) fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.0.push(tokio::spawn(task));
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::GroupId;
    use crate::domain::ports::Heard;
    use std::sync::{Arc, Mutex};

    /// A transport that keeps what it was given, failing the first `failures` sends.
    #[derive(Clone, Default)]
    struct Kept {
        messages: Arc<Mutex<Vec<String>>>,
        failures: Arc<Mutex<u32>>,
    }

    impl Carrier for Kept {
        const LIMIT: usize = 500;

        async fn carry(&mut self, messages: &[String]) -> anyhow::Result<()> {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                anyhow::bail!("down");
            }
            self.messages.lock().unwrap().extend_from_slice(messages);
            Ok(())
        }
    }

    fn version(version: i64) -> Event {
        Event::GroupVersion {
            group: GroupId(Uuid::nil()),
            version,
        }
    }

    #[tokio::test]
    async fn publishing_delivers_here_and_sends_once_to_the_others() {
        let (relay, _inbound, outbound) = Relay::new();
        let (other, other_inbound, _) = Relay::new();
        let mut here = relay.subscribe();
        let mut there = other.subscribe();
        let kept = Kept::default();
        let sending = tokio::spawn(outbound.run(kept.clone()));
        for n in 0..100 {
            relay.publish(version(n));
        }
        drop(relay);
        sending.await.unwrap();
        for n in 0..100 {
            assert_eq!(here.next().await, Some(Heard::Event(version(n))));
        }
        let messages = kept.messages.lock().unwrap().clone();
        assert!(messages.len() > 1, "several messages under the carrier's limit");
        messages.iter().for_each(|message| other_inbound.receive(message));
        for n in 0..100 {
            assert_eq!(there.next().await, Some(Heard::Event(version(n))));
        }
    }

    #[tokio::test]
    async fn an_instance_skips_its_own_echo_and_ignores_garbage() {
        let (relay, inbound, outbound) = Relay::new();
        let kept = Kept::default();
        let sending = tokio::spawn(outbound.run(kept.clone()));
        relay.publish(version(1));
        let mut late = relay.subscribe();
        drop(relay);
        sending.await.unwrap();
        for message in kept.messages.lock().unwrap().iter() {
            inbound.receive(message);
        }
        inbound.receive("1 garbage");
        inbound.receive("");
        inbound.missed();
        assert_eq!(
            late.next().await,
            Some(Heard::Missed(0)),
            "nothing before the missed note"
        );
    }

    #[tokio::test]
    async fn a_failed_send_is_tried_again() {
        let (relay, _inbound, outbound) = Relay::new();
        let kept = Kept::default();
        *kept.failures.lock().unwrap() = ATTEMPTS - 1;
        let sending = tokio::spawn(outbound.run(kept.clone()));
        relay.publish(version(7));
        drop(relay);
        sending.await.unwrap();
        assert_eq!(kept.messages.lock().unwrap().len(), 1);
    }
}
