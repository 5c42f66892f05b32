//! The push port: WebDAV-Push registrations, and which of them a change concerns.

use crate::domain::Result;
use crate::domain::book::Book;
use crate::domain::ids::{AccountId, GroupId, RegistrationId, TerminalId};
use crate::domain::push::PushRegistration;
use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;

/// Storage of push registrations.
#[async_trait]
pub trait PushStore: Send + Sync + 'static {
    /// Stores a registration, or renews the one with the same account, book and push
    /// resource (keeping its id). Returns its id and whether it is new; `None` when the
    /// account already holds `max_per_account` registrations and this would be another one.
    async fn upsert_push_registration(
        &self,
        registration: &PushRegistration,
        max_per_account: u32,
        at: OffsetDateTime,
    ) -> Result<Option<(RegistrationId, bool)>>;
    /// One registration.
    async fn push_registration(&self, id: RegistrationId) -> Result<Option<PushRegistration>>;
    /// Deletes a registration (only the account's, when one is named); false when there was
    /// none.
    async fn delete_push_registration(&self, account: Option<AccountId>, id: RegistrationId) -> Result<bool>;
    /// Registrations a change of the group concerns: those of its active members for
    /// `contacts` and for the group's own book.
    async fn push_registrations_for_group(&self, group: GroupId) -> Result<Vec<RegistrationId>>;
    /// The account's registrations for these books, with the terminal holding each.
    async fn push_registrations_of(
        &self,
        account: AccountId,
        books: &[Book],
    ) -> Result<Vec<(RegistrationId, TerminalId)>>;
    /// Deletes registrations that lapsed before `now`; returns how many.
    async fn purge_push_registrations(&self, now: OffsetDateTime) -> Result<u64>;
    /// Claims telling a registration `token`, atomically for every server instance on the
    /// store: it is [`PushClaim::Claimed`] (and recorded as told at `now`) only when the
    /// registration was not yet told this token and its last claim is at least `window` old.
    /// A renewed registration (see `upsert_push_registration`) has been told nothing.
    async fn claim_push(
        &self,
        id: RegistrationId,
        token: &str,
        now: OffsetDateTime,
        window: Duration,
    ) -> Result<PushClaim>;
}

/// The answer to [`PushStore::claim_push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushClaim {
    /// This caller tells the registration the token now.
    Claimed,
    /// Nothing to tell: the registration knows the token already, or is gone.
    Told,
    /// The registration was told something less than a window ago: ask again at this time.
    NotBefore(OffsetDateTime),
}

impl PushClaim {
    /// Why a claim that changed nothing was refused, from what the registration was last told
    /// (`None` when it is gone): for stores, after their conditional update matched no row.
    pub fn refused(told: Option<(Option<&str>, Option<OffsetDateTime>)>, token: &str, window: Duration) -> Self {
        match told {
            Some((Some(told), _)) if told == token => PushClaim::Told,
            Some((_, Some(at))) => PushClaim::NotBefore(at + window),
            // Gone, or never told and yet refused: a concurrent claim won; it tells the news.
            _ => PushClaim::Told,
        }
    }
}
