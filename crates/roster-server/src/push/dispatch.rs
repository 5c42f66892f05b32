//! The push loop: bus announcements in, at most one push per registration per window out.
//!
//! A touched registration is due a short settling delay after the announcement (one write
//! announces every group it changed) and never sooner than one window after its previous
//! push; when it is due, it is told the book's token *then*, so a burst of changes costs one
//! or two pushes, the last one current. Every server instance hears every announcement: the
//! store decides which one pushes a token ([`Roster::claim_push`]), so each registration is
//! told each token once, and no sooner than a window after its last push from any instance.

use super::sender::{Outcome, Sender};
use crate::domain::Roster;
use crate::domain::ids::RegistrationId;
use crate::domain::ports::{Heard, PushClaim};
use crate::webpush as crypto;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Further attempts after a failure that may pass.
const RETRIES: u32 = 2;
/// Wait before the first retry (doubled for the next).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Sends WebDAV-Push messages for the changes announced on the bus.
pub struct Dispatcher {
    roster: Arc<Roster>,
    sender: Sender,
    window: Duration,
}

impl Dispatcher {
    /// A dispatcher with the roster's push settings.
    pub fn new(roster: Arc<Roster>) -> anyhow::Result<Self> {
        let settings = &roster.settings().push;
        let sender = Sender::new(settings.contact.clone(), settings.allowed_origins.clone())?;
        let window = settings.coalesce;
        Ok(Dispatcher { roster, sender, window })
    }

    /// Runs until the bus closes: call once per server, in its own task. Dropping the task
    /// drops the pushes in flight.
    pub async fn run(self) {
        let mut events = self.roster.bus().subscribe();
        let mut due: HashMap<RegistrationId, Instant> = HashMap::new();
        let mut last_sent: HashMap<RegistrationId, Instant> = HashMap::new();
        let mut in_flight = JoinSet::new();
        let settle = self.window / 4;
        loop {
            let next = due.values().min().copied();
            tokio::select! {
                heard = events.next() => match heard {
                    Some(Heard::Event(event)) => match self.roster.push_touched(&event).await {
                        Ok(ids) => {
                            let now = Instant::now();
                            for id in ids {
                                let earliest = last_sent.get(&id).map_or(now, |sent| *sent + self.window);
                                due.entry(id).or_insert((now + settle).max(earliest));
                            }
                        }
                        Err(e) => tracing::error!(error = ?e, "cannot find the push subscriptions of a change"),
                    },
                    Some(Heard::Missed(missed)) => {
                        // Pushes are hints: the clients concerned sync on their own schedule.
                        tracing::warn!(missed, "push dispatcher lagged behind the bus; some pushes are lost");
                    }
                    None => return,
                },
                () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                    let now = Instant::now();
                    let ready: Vec<RegistrationId> =
                        due.iter().filter(|(_, at)| **at <= now).map(|(id, _)| *id).collect();
                    for id in ready {
                        due.remove(&id);
                        last_sent.insert(id, now);
                        let (roster, sender) = (self.roster.clone(), self.sender.clone());
                        // The sender caps pushes in flight, per origin and in all.
                        in_flight.spawn(async move { deliver(&roster, &sender, id).await });
                    }
                    last_sent.retain(|_, sent| now.duration_since(*sent) < self.window);
                }
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    // Another instance pushed this registration less than a window ago: ask
                    // again when the window has passed.
                    if let Ok(Some((id, later))) = done {
                        due.entry(id).or_insert(later);
                    }
                }
            }
        }
    }
}

/// Tells one registration its book's current token, retrying failures that may pass.
/// Returns when to try again if another instance told it something less than a window ago.
async fn deliver(roster: &Roster, sender: &Sender, id: RegistrationId) -> Option<(RegistrationId, Instant)> {
    let mut claimed: Option<String> = None;
    for attempt in 0..=RETRIES {
        let message = match roster.push_message(id).await {
            Ok(Some(message)) => message,
            Ok(None) => return None,
            Err(e) => {
                tracing::error!(error = ?e, registration = %id, "cannot prepare a push");
                return None;
            }
        };
        if claimed.as_deref() != Some(message.token.as_str()) {
            match roster.claim_push(id, &message.token).await {
                Ok(PushClaim::Claimed) => claimed = Some(message.token.clone()),
                Ok(PushClaim::Told) => return None,
                Ok(PushClaim::NotBefore(at)) => {
                    let wait = (at - time::OffsetDateTime::now_utc()).max(time::Duration::ZERO);
                    let wait = Duration::try_from(wait).unwrap_or_default();
                    return Some((id, Instant::now() + wait));
                }
                Err(e) => {
                    tracing::error!(error = ?e, registration = %id, "cannot claim a push");
                    return None;
                }
            }
        }
        let Some(vapid) = roster.vapid_key() else {
            tracing::error!("push keys are not loaded");
            return None;
        };
        let subscription = &message.registration.subscription;
        let body = super::message::push_message(&message.topic, &message.token);
        let sealed = match crypto::encrypt(body.as_bytes(), &subscription.public_key, &subscription.auth_secret) {
            Ok(sealed) => sealed,
            Err(e) => {
                tracing::warn!(error = %e, registration = %id, "cannot encrypt a push");
                return None;
            }
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let outcome = sender
            .send(vapid, &subscription.push_resource, sealed, &message.coalesce_key, now)
            .await;
        let label = match &outcome {
            Outcome::Delivered => "delivered",
            Outcome::Gone => "gone",
            Outcome::Retry(_) => "failed",
            Outcome::Refused(_) => "refused",
        };
        metrics::counter!("roster_pushes_total", "outcome" => label).increment(1);
        match outcome {
            Outcome::Delivered => return None,
            Outcome::Gone => {
                if let Err(e) = roster.drop_push(id).await {
                    tracing::error!(error = ?e, registration = %id, "cannot drop a gone push subscription");
                }
                return None;
            }
            Outcome::Refused(why) => {
                tracing::warn!(registration = %id, why, "push refused");
                return None;
            }
            Outcome::Retry(why) if attempt < RETRIES => {
                tracing::info!(registration = %id, why, attempt, "push failed; retrying");
                tokio::time::sleep(RETRY_AFTER * 2u32.pow(attempt)).await;
            }
            Outcome::Retry(why) => tracing::warn!(registration = %id, why, "push failed; giving up"),
        }
    }
    None
}
