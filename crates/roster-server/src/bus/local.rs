//! The in-process bus: a tokio broadcast channel, for a single server instance.

use crate::domain::ports::{Bus, Event, Fanout, Subscription};

/// Announcements within one process.
#[derive(Debug)]
pub struct LocalBus {
    fanout: Fanout,
}

impl LocalBus {
    /// A bus whose receivers may lag `capacity` messages before they miss some.
    pub fn new(capacity: usize) -> Self {
        LocalBus {
            fanout: Fanout::new(capacity),
        }
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl Bus for LocalBus {
    fn publish(&self, event: Event) {
        self.fanout.deliver(event);
    }

    fn subscribe(&self) -> Subscription {
        self.fanout.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::GroupId;

    #[tokio::test]
    async fn subscribers_receive_later_announcements() {
        let bus = LocalBus::new(8);
        let mut rx = bus.subscribe();
        let event = Event::GroupVersion {
            group: GroupId::random(),
            version: 3,
        };
        bus.publish(event);
        assert_eq!(rx.next().await, Some(crate::domain::ports::Heard::Event(event)));
    }
}
