//! What a store may refuse, as facts, and the words the domain gives each one.
//!
//! A store checks the rules that need its transaction (a free place under the member limit,
//! an invite use left, the card revision a write was based on) and answers a broken one with
//! a [`Refusal`]. The wording, and which kind of [`Error`] each refusal is for the doors, is
//! the domain's and lives here only; the store never writes a message.

use crate::domain::error::Error;

/// A write the store declined because the state it found breaks a rule; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Another account already has this login.
    #[error("the login `{login}` is taken")]
    LoginTaken {
        /// The login asked for.
        login: String,
    },
    /// The account owns a group that has other active members, so it cannot be deleted.
    #[error("the account owns the group `{group}`, which has other members: transfer or delete it first")]
    OwnsSharedGroup {
        /// The group's name.
        group: String,
    },
    /// The card's revision is no longer the one the write was based on.
    #[error("the card was changed meanwhile; read it again")]
    CardChanged,
    /// There is no such group.
    #[error("group not found")]
    NoGroup,
    /// There is no such unrevoked invite for the group.
    #[error("invite not found")]
    NoInvite,
    /// The account has no membership of the required state in the group.
    #[error("member not found")]
    NoMember,
    /// The account has no pending request to join the group.
    #[error("join request not found")]
    NoJoinRequest,
    /// A join by an account that is already an active member.
    #[error("already a member of this group")]
    AlreadyMember,
    /// A second request to join while one is pending.
    #[error("a request to join is already pending")]
    AlreadyPending,
    /// An approval of a membership that is already active.
    #[error("already an active member")]
    AlreadyActive,
    /// The invite expired or reached its maximum uses before this join counted.
    #[error("the invite has expired or been used up")]
    InviteUsedUp,
    /// One more active member would pass the group's member limit.
    #[error("the group has reached its member limit")]
    GroupFull,
    /// A new member limit below the group's active member count.
    #[error("the group has more active members than the new limit")]
    LimitBelowMembers,
    /// The owner's membership cannot end while they own the group.
    #[error("the owner cannot leave: transfer ownership or delete the group")]
    OwnerCannotLeave,
    /// A transfer asked by an account that does not own the group.
    #[error("only the owner can transfer the group")]
    NotOwner,
}

/// Why a refusable store write did not happen: the store refused it, or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule the store checks was broken; nothing was written.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store could not do it (an internal failure, or storage that takes no writes).
    #[error(transparent)]
    Failed(#[from] Error),
}

/// The result of a store write that may be refused.
pub type Refusable<T> = std::result::Result<T, StoreError>;

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoGroup => Error::NotFound("group"),
            Refusal::NoInvite => Error::NotFound("invite"),
            Refusal::NoMember => Error::NotFound("member"),
            Refusal::NoJoinRequest => Error::NotFound("join request"),
            Refusal::LoginTaken { .. }
            | Refusal::OwnsSharedGroup { .. }
            | Refusal::CardChanged
            | Refusal::AlreadyMember
            | Refusal::AlreadyPending
            | Refusal::AlreadyActive
            | Refusal::InviteUsedUp
            | Refusal::GroupFull
            | Refusal::LimitBelowMembers
            | Refusal::OwnerCannotLeave
            | Refusal::NotOwner => Error::Conflict(refusal.to_string()),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(refusal) => refusal.into(),
            StoreError::Failed(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_words_and_kinds_the_doors_answer_with() {
        let conflict = |refusal: Refusal| match Error::from(StoreError::from(refusal)) {
            Error::Conflict(why) => why,
            other => panic!("not a conflict: {other:?}"),
        };
        assert_eq!(
            conflict(Refusal::LoginTaken { login: "anna".into() }),
            "the login `anna` is taken"
        );
        assert_eq!(conflict(Refusal::GroupFull), "the group has reached its member limit");
        assert_eq!(
            conflict(Refusal::CardChanged),
            "the card was changed meanwhile; read it again"
        );
        assert!(matches!(
            Error::from(Refusal::NoJoinRequest),
            Error::NotFound("join request")
        ));
        assert!(matches!(
            Error::from(StoreError::from(Error::Unauthorized)),
            Error::Unauthorized
        ));
    }
}
