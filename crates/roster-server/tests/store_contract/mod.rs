//! The store contract: what every implementation of the domain's storage ports must do,
//! written once against `Arc<dyn Store>` and run against each backend.
//!
//! A backend joins with one line at the bottom of this file: `store_contract!(name, factory)`,
//! where `factory` is an async function returning `Some(Backend)`, or `None`, after saying
//! why the tests are skipped, when its database is not configured or not reachable here. Each area's
//! contract is a file of async functions taking the store; the macro lists them all once.

mod accounts;
mod credentials;
mod directory;
mod fixtures;
mod groups;
mod push;
mod server;

use roster_server::domain::ports::Store;
use roster_server::store::postgres::testing::TestSchema;
use roster_server::store::postgres::{PgOptions, PgStore};
use roster_server::store::sqlite::SqliteStore;
use std::any::Any;
use std::sync::Arc;

/// A store under test, with whatever must outlive it (a temporary folder, a schema).
pub(crate) struct Backend {
    pub(crate) store: Arc<dyn Store>,
    _keep: Box<dyn Any + Send>,
}

/// A fresh SQLite store in a temporary folder.
pub(crate) async fn sqlite() -> Option<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("contract.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    Some(Backend {
        store: Arc::new(store),
        _keep: Box::new(dir),
    })
}

/// A fresh PostgreSQL store in a schema of its own, dropped after the test; `None` (skipped)
/// when `ROSTER_TEST_POSTGRES_URL` is unset or does not answer, except under `CI=true`.
pub(crate) async fn postgres() -> Option<Backend> {
    let schema = TestSchema::from_env("contract").await?;
    let store = PgStore::connect(schema.url(), &PgOptions::default()).await.unwrap();
    Some(Backend {
        store: Arc::new(store),
        _keep: Box::new(schema),
    })
}

/// Instantiates every contract test for one backend, in a module named after it.
macro_rules! store_contract {
    ($backend:ident, $factory:path) => {
        mod $backend {
            store_contract!(@tests $factory;
                accounts::accounts_are_found_by_login_and_id_and_a_taken_login_is_refused,
                accounts::deleting_an_account_ends_its_memberships_and_takes_its_belongings,
                accounts::an_account_owning_a_group_with_other_members_is_not_deleted,
                accounts::terminals_authenticate_by_their_hash_until_revoked,
                accounts::stream_tickets_are_single_use_and_expire,
                accounts::group_books_are_listed_only_once_asked,
                credentials::concurrent_failures_are_each_counted_and_lock_with_back_off,
                credentials::a_password_change_revokes_the_other_terminals_in_the_same_write,
                credentials::a_registration_through_an_invite_stores_both_or_neither,
                groups::a_new_group_has_its_owner_as_first_active_member,
                groups::a_group_update_applies_and_a_limit_below_the_members_is_refused,
                groups::deleting_a_group_names_its_members_and_drops_its_log,
                groups::memberships_move_through_join_approval_leaving_and_rejoining,
                groups::roles_change_for_active_members_and_ownership_moves_from_the_owner,
                groups::a_share_change_is_logged_only_for_an_active_member_and_a_real_change,
                groups::the_member_limit_holds_for_joins_and_approvals,
                groups::invite_uses_are_capped_under_concurrent_joins,
                groups::expired_revoked_and_foreign_invites_do_not_join,
                groups::invites_are_listed_found_by_code_and_revoked,
                groups::groups_of_lists_active_and_pending_memberships,
                directory::a_card_write_needs_the_revision_it_was_based_on,
                directory::a_card_change_is_logged_where_the_changed_fields_are_shared,
                directory::versions_are_gap_free_under_concurrent_writers,
                directory::every_returned_change_is_logged_and_a_refused_write_logs_nothing,
                directory::directory_pages_skip_the_viewer_and_page_in_account_order,
                directory::directory_search_prefilters_by_name_and_phone_prefix,
                directory::member_cards_reads_the_named_subjects_in_any_state,
                directory::changes_since_reads_after_the_cursor_up_to_the_limit,
                directory::compaction_drops_old_entries_raises_the_floor_and_keeps_the_last,
                directory::refused_edits_are_reported_again_once_per_terminal_and_book,
                push::a_renewed_registration_keeps_its_id,
                push::registrations_are_capped_per_account,
                push::registrations_are_found_by_group_and_book,
                push::registrations_are_deleted_by_their_account_and_purged_when_lapsed,
                push::each_token_is_claimed_once_per_registration_and_window,
                server::the_first_server_key_candidate_wins,
                server::server_values_are_kept_and_replaced,
                server::counts_and_ping_answer,
            );
        }
    };
    (@tests $factory:path; $($area:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $test() {
                // A factory that returns nothing has said why.
                let Some(backend) = $factory().await else {
                    return;
                };
                crate::store_contract::$area::$test(backend.store.clone()).await;
            }
        )*
    };
}

store_contract!(sqlite, crate::store_contract::sqlite);
store_contract!(postgres, crate::store_contract::postgres);
