//! Live feeds: every committed change of a group reaches each connected terminal of each
//! active member, in version order, resumably, without loss.
//!
//! The [`Hub`] listens to the bus. When a group reaches a new version it computes the deltas
//! **once** (for any active viewer; each connection only skips its own card) and drops the
//! batch into the inbox of every connection watching the group. A connection whose inbox
//! overflows, or that sees a gap, catches up on its own from the change log with the same
//! engine as `changes?since=`, so a slow or lagging terminal costs only itself, and a lost
//! bus message only delays. Nothing here knows WebSockets: `http::stream` renders the items.

use super::error::{Error, Result};
use super::ids::{AccountId, GroupId, TerminalId};
use super::model::Membership;
use super::ports::{Event, Heard};
use super::secret::{new_secret, secret_hash};
use super::share_policy::ShareFields;
use super::sync::Delta;
use super::terminal::Caller;
use super::{Roster, now};
use roster_proto::api::{MembershipState, Role};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// Batches a connection may hold unread before it is treated as lagging.
const INBOX_LIMIT: usize = 256;
/// Directory entries per batch when a whole directory is sent.
const DIRECTORY_BATCH: u32 = 500;
/// How long a stream ticket is valid.
pub const TICKET_TTL: Duration = Duration::from_secs(60);

/// Deltas of one group that bring a terminal from `from` to `cursor`.
pub struct Batch {
    /// The group.
    pub group: GroupId,
    /// The cursor a terminal must hold to apply this batch.
    pub from: i64,
    /// The deltas, in version order. Hub batches include every subject; a connection skips
    /// its own account.
    pub deltas: Vec<Delta>,
    /// The cursor reached after the batch; `None` while more directory pages follow.
    pub cursor: Option<i64>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("group", &self.group)
            .field("from", &self.from)
            .field("deltas", &self.deltas.len())
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl Batch {
    fn new(group: GroupId, from: i64, deltas: Vec<Delta>, cursor: Option<i64>) -> Arc<Self> {
        Arc::new(Batch {
            group,
            from,
            deltas,
            cursor,
        })
    }
}

/// Why a feed ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The terminal's credential was revoked or its account deleted.
    Revoked,
    /// The server is shutting down; reconnect later.
    Shutdown,
}

/// What a connected terminal must be told, in order.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// The account is an active member of a group the terminal did not hold.
    Joined {
        /// The group.
        group: GroupId,
        /// Its name.
        name: String,
    },
    /// The account is no longer a member: drop the group.
    Left {
        /// The group.
        group: GroupId,
    },
    /// The terminal's cursor is below the kept log: drop the group's cards; the directory
    /// follows.
    Resync {
        /// The group.
        group: GroupId,
    },
    /// Deltas to apply.
    Changes(Arc<Batch>),
    /// The group's join requests changed (sent to its admins only).
    Requests {
        /// The group.
        group: GroupId,
    },
    /// The feed is over.
    Closed(CloseReason),
}

#[derive(Default)]
struct Inbox {
    batches: VecDeque<Arc<Batch>>,
    overflowed: bool,
    membership: bool,
    /// Groups whose memberships changed (join requests among them).
    requests: HashSet<GroupId>,
    closed: Option<CloseReason>,
}

#[derive(Default)]
struct ConnState {
    notify: Notify,
    inbox: Mutex<Inbox>,
}

impl ConnState {
    fn with_inbox(&self, change: impl FnOnce(&mut Inbox)) {
        if let Ok(mut inbox) = self.inbox.lock() {
            change(&mut inbox);
        }
        self.notify.notify_one();
    }
}

/// Who is connected and watching what.
#[derive(Default)]
pub(crate) struct Hub {
    inner: Mutex<HubInner>,
}

#[derive(Default)]
struct HubInner {
    next_id: u64,
    conns: HashMap<u64, Arc<ConnState>>,
    by_group: HashMap<GroupId, HashSet<u64>>,
    by_account: HashMap<AccountId, HashSet<u64>>,
    by_terminal: HashMap<TerminalId, HashSet<u64>>,
    last: HashMap<GroupId, i64>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HubInner> {
        // A panic while holding this lock cannot leave the maps inconsistent in a way that
        // matters more than losing every stream, so recover the guard.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn register(&self, account: AccountId, terminal: TerminalId) -> (u64, Arc<ConnState>) {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let state = Arc::new(ConnState::default());
        inner.conns.insert(id, state.clone());
        inner.by_account.entry(account).or_default().insert(id);
        inner.by_terminal.entry(terminal).or_default().insert(id);
        (id, state)
    }

    fn unregister(&self, id: u64, account: AccountId, terminal: TerminalId, groups: impl Iterator<Item = GroupId>) {
        let mut inner = self.lock();
        inner.conns.remove(&id);
        for group in groups {
            remove_from(&mut inner.by_group, &group, id);
        }
        remove_from(&mut inner.by_account, &account, id);
        remove_from(&mut inner.by_terminal, &terminal, id);
    }

    fn watch(&self, id: u64, group: GroupId) {
        self.lock().by_group.entry(group).or_default().insert(id);
    }

    fn unwatch(&self, id: u64, group: GroupId) {
        remove_from(&mut self.lock().by_group, &group, id);
    }

    fn each(&self, ids: Option<&HashSet<u64>>, inner: &HubInner, change: impl Fn(&mut Inbox)) {
        for id in ids.into_iter().flatten() {
            if let Some(state) = inner.conns.get(id) {
                state.with_inbox(&change);
            }
        }
    }

    fn flag_membership(&self, account: AccountId) {
        let inner = self.lock();
        self.each(inner.by_account.get(&account), &inner, |inbox| inbox.membership = true);
    }

    /// Someone's membership of a group changed: connections that follow the group may have
    /// new join requests to show (the feed tells admins only).
    fn flag_requests(&self, group: GroupId) {
        let inner = self.lock();
        self.each(inner.by_group.get(&group), &inner, |inbox| {
            inbox.requests.insert(group);
        });
    }

    fn close_terminal(&self, terminal: TerminalId) {
        let inner = self.lock();
        self.each(inner.by_terminal.get(&terminal), &inner, |inbox| {
            inbox.closed = Some(CloseReason::Revoked);
        });
    }

    fn close_account(&self, account: AccountId) {
        let inner = self.lock();
        self.each(inner.by_account.get(&account), &inner, |inbox| {
            inbox.closed = Some(CloseReason::Revoked);
        });
    }

    fn close_all(&self) {
        let inner = self.lock();
        for state in inner.conns.values() {
            state.with_inbox(|inbox| inbox.closed = Some(CloseReason::Shutdown));
        }
    }

    /// Every connection may have missed anything: make each re-check and catch up.
    fn flag_everyone(&self) {
        let inner = self.lock();
        for state in inner.conns.values() {
            state.with_inbox(|inbox| {
                inbox.membership = true;
                inbox.overflowed = true;
            });
        }
    }

    /// Where the next batch of a group starts, or `None` if nobody watches it or it is
    /// already covered.
    fn batch_start(&self, group: GroupId, version: i64) -> Option<i64> {
        let mut inner = self.lock();
        let last = inner.last.get(&group).copied();
        if inner.by_group.get(&group).is_none_or(HashSet::is_empty) {
            inner.last.insert(group, version.max(last.unwrap_or(0)));
            return None;
        }
        match last {
            Some(last) if last >= version => None,
            Some(last) => Some(last),
            None => Some(version - 1),
        }
    }

    fn deliver(&self, batch: Arc<Batch>) {
        let mut inner = self.lock();
        if let Some(cursor) = batch.cursor {
            inner.last.insert(batch.group, cursor);
        }
        let inner = &*inner;
        self.each(inner.by_group.get(&batch.group), inner, |inbox| {
            if inbox.batches.len() >= INBOX_LIMIT {
                // Too far behind: drop what is queued; the connection catches up from the log.
                inbox.batches.clear();
                inbox.overflowed = true;
                metrics::counter!("roster_stream_overflows_total").increment(1);
            } else {
                inbox.batches.push_back(batch.clone());
            }
        });
    }

    fn is_connected(&self, terminal: TerminalId) -> bool {
        self.lock()
            .by_terminal
            .get(&terminal)
            .is_some_and(|ids| !ids.is_empty())
    }

    fn connections(&self) -> usize {
        self.lock().conns.len()
    }
}

/// One open stream of an account, counted until dropped (see [`Roster::admit_stream`]).
pub struct StreamPermit {
    roster: Arc<Roster>,
    account: AccountId,
}

impl std::fmt::Debug for StreamPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamPermit").field("account", &self.account).finish()
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = self
            .roster
            .open_streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.account) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.account);
            }
        }
    }
}

fn remove_from<K: std::hash::Hash + Eq>(map: &mut HashMap<K, HashSet<u64>>, key: &K, id: u64) {
    if let Some(ids) = map.get_mut(key) {
        ids.remove(&id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
}

/// A viewer standing for "any active member", for deltas computed once for all of them.
fn any_member(group: GroupId) -> Membership {
    Membership {
        group_id: group,
        account_id: AccountId(Uuid::nil()),
        role: Role::Member,
        state: MembershipState::Active,
        share: ShareFields::NONE,
        since: now(),
    }
}

impl Roster {
    /// Runs the fan-out until the bus closes: call once per server, in its own task.
    pub async fn run_hub(self: Arc<Self>) {
        let mut events = self.bus.subscribe();
        loop {
            match events.next().await {
                Some(Heard::Event(Event::GroupVersion { group, version })) => self.fan_out(group, version).await,
                Some(Heard::Event(Event::Membership { account, group })) => {
                    self.hub.flag_membership(account);
                    self.hub.flag_requests(group);
                }
                Some(Heard::Event(Event::TerminalRevoked { terminal })) => self.hub.close_terminal(terminal),
                Some(Heard::Event(Event::AccountClosed { account })) => self.hub.close_account(account),
                // Streams carry the directories of groups; an own card reaches them as group
                // changes, and group names are read from the group list.
                Some(Heard::Event(Event::CardChanged { .. } | Event::GroupRenamed { .. })) => {}
                Some(Heard::Missed(missed)) => {
                    tracing::warn!(
                        missed,
                        "stream hub lagged behind the bus; connections catch up from the log"
                    );
                    self.hub.flag_everyone();
                }
                None => return,
            }
        }
    }

    async fn fan_out(&self, group: GroupId, version: i64) {
        let Some(mut from) = self.hub.batch_start(group, version) else {
            return;
        };
        let viewer = any_member(group);
        loop {
            let changes = match self.changes_for(&viewer, from).await {
                Ok(changes) => changes,
                Err(Error::NotFound(_)) => return, // the group was deleted meanwhile
                Err(e) => {
                    tracing::error!(error = ?e, %group, "fan-out failed; connections will catch up");
                    return;
                }
            };
            if changes.resync {
                // Our own starting point was compacted away: let connections catch up alone.
                self.hub
                    .deliver(Batch::new(group, changes.cursor, Vec::new(), Some(changes.cursor)));
                return;
            }
            let more = changes.more;
            let cursor = changes.cursor;
            self.hub.deliver(Batch::new(group, from, changes.deltas, Some(cursor)));
            if !more {
                return;
            }
            from = cursor;
        }
    }

    /// Whether a terminal has a live stream on this server.
    pub fn is_connected(&self, terminal: TerminalId) -> bool {
        self.hub.is_connected(terminal)
    }

    /// Tells every live stream that the server is going away.
    pub fn close_streams(&self) {
        self.hub.close_all();
    }

    /// Number of live streams on this server.
    pub fn connections(&self) -> usize {
        self.hub.connections()
    }

    /// Issues a single-use ticket that opens the caller's stream without a header.
    pub async fn stream_ticket(&self, caller: &Caller) -> Result<String> {
        let (ticket, hash) = new_secret("tkt_");
        self.store
            .create_ticket(&hash, caller.terminal.id, now() + TICKET_TTL)
            .await?;
        Ok(ticket)
    }

    /// Resolves a stream ticket (once) to its caller.
    pub async fn authenticate_ticket(&self, ticket: &str) -> Result<Caller> {
        if ticket.is_empty() || ticket.len() > 200 {
            return Err(Error::Unauthorized);
        }
        let (account, terminal) = self
            .store
            .redeem_ticket(&secret_hash(ticket), now())
            .await?
            .ok_or(Error::Unauthorized)?;
        Ok(Caller { account, terminal })
    }

    /// Admits a stream connection before it is upgraded: (re)connections are limited per
    /// account, and so is the number of streams an account holds open. The permit is held for
    /// as long as the connection lives.
    pub fn admit_stream(self: &Arc<Self>, caller: &Caller) -> Result<StreamPermit> {
        self.limits.stream_connect(caller.account.id)?;
        let cap = usize::try_from(self.settings.rates.streams_per_account).unwrap_or(usize::MAX);
        let mut open = self
            .open_streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(caller.account.id).or_insert(0);
        if *count >= cap {
            return Err(Error::RateLimited {
                retry_after: Duration::from_secs(60),
            });
        }
        *count += 1;
        Ok(StreamPermit {
            roster: self.clone(),
            account: caller.account.id,
        })
    }

    /// Opens a terminal's feed. `cursors` are the versions it holds; groups it does not name
    /// start at 0. Returns the feed and what the terminal missed, ending with a cursor for
    /// every group it is a member of.
    pub async fn open_feed(
        self: &Arc<Self>,
        caller: Caller,
        cursors: &BTreeMap<GroupId, i64>,
    ) -> Result<(Feed, Vec<FeedItem>)> {
        self.open_feed_scoped(caller, cursors, None).await
    }

    /// Opens a feed that follows only the groups of `scope` (all groups when `None`): a page
    /// that shows one group is not sent the account's other directories.
    pub async fn open_feed_scoped(
        self: &Arc<Self>,
        caller: Caller,
        cursors: &BTreeMap<GroupId, i64>,
        scope: Option<std::collections::HashSet<GroupId>>,
    ) -> Result<(Feed, Vec<FeedItem>)> {
        // Register before reading any state, so that nothing committed meanwhile is missed.
        let (id, state) = self.hub.register(caller.account.id, caller.terminal.id);
        let mut feed = Feed {
            roster: self.clone(),
            account: caller.account.id,
            terminal: caller.terminal.id,
            id,
            state,
            groups: HashMap::new(),
            scope,
        };
        let mut items = Vec::new();
        let active = feed.active_memberships().await?;
        for group in cursors.keys() {
            if !active.contains_key(group) {
                items.push(FeedItem::Left { group: *group });
            }
        }
        for (group, (membership, name)) in active {
            let cursor = match cursors.get(&group) {
                Some(cursor) => *cursor,
                None => {
                    items.push(FeedItem::Joined { group, name });
                    0
                }
            };
            feed.track(membership, cursor);
            feed.catch_up(group, &mut items, true).await?;
        }
        Ok((feed, items))
    }
}

/// Wakes a connection when its feed has something to poll (see [`Feed::signal`]).
pub struct Signal(Arc<ConnState>);

impl Signal {
    /// Completes once something arrived since the last poll (a wake that came before this
    /// was made is kept, not lost).
    pub fn arrived(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.notify.notified()
    }
}

/// One connected terminal's view of its groups.
pub struct Feed {
    roster: Arc<Roster>,
    /// Whose feed it is: only ids are kept, since every idle terminal holds one.
    account: AccountId,
    /// The terminal it serves.
    terminal: TerminalId,
    id: u64,
    state: Arc<ConnState>,
    groups: HashMap<GroupId, Tracked>,
    /// The only groups followed, if the terminal asked for some only.
    scope: Option<std::collections::HashSet<GroupId>>,
}

/// What a hub batch is to a feed (see [`Feed::follow`]).
enum Follow {
    /// Not for this feed, or already applied.
    Skip,
    /// The next batch of its group: send it.
    Apply,
    /// Something is missing before it: catch up from the log.
    Gap,
}

struct Tracked {
    cursor: i64,
    acked: i64,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("terminal", &self.terminal)
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl Feed {
    /// The account this feed serves.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// Waits until something arrived for this feed; then call [`Feed::poll`].
    pub async fn changed(&self) {
        self.state.notify.notified().await;
    }

    /// What [`Feed::changed`] waits on, held apart from the feed: a connection keeps one
    /// waiting future across its loop instead of making (and unlinking) one per turn.
    pub fn signal(&self) -> Signal {
        Signal(self.state.clone())
    }

    /// What arrived since the last poll, in the order the terminal must apply it.
    ///
    /// The common case, batches that follow on from what the terminal holds, is answered
    /// without reading anything; only the rest reads the store, in a future of its own on the
    /// heap, so that a connection waiting for its next change holds a small future.
    pub async fn poll(&mut self) -> Result<Vec<FeedItem>> {
        let mut inbox = match self.state.inbox.lock() {
            Ok(mut inbox) => std::mem::take(&mut *inbox),
            Err(_) => return Err(Error::Internal(anyhow::anyhow!("feed inbox poisoned"))),
        };
        if let Some(reason) = inbox.closed {
            return Ok(vec![FeedItem::Closed(reason)]);
        }
        if inbox.membership || inbox.overflowed || !inbox.requests.is_empty() {
            return Box::pin(self.poll_store(inbox, Vec::new())).await;
        }
        let mut items = Vec::new();
        while let Some(batch) = inbox.batches.pop_front() {
            match self.follow(&batch) {
                Follow::Skip => {}
                Follow::Apply => items.push(FeedItem::Changes(batch)),
                Follow::Gap => {
                    // Catch up from the log, then go on with what is left.
                    inbox.batches.push_front(batch);
                    return Box::pin(self.poll_store(inbox, items)).await;
                }
            }
        }
        Ok(items)
    }

    /// Whether a hub batch follows on from what the terminal holds; when it does, the group's
    /// cursor moves to the batch's.
    fn follow(&mut self, batch: &Batch) -> Follow {
        let Some(tracked) = self.groups.get_mut(&batch.group) else {
            return Follow::Skip;
        };
        let Some(cursor) = batch.cursor else {
            return Follow::Skip;
        };
        if cursor <= tracked.cursor {
            return Follow::Skip; // already applied (a catch-up went further)
        }
        if batch.from != tracked.cursor {
            return Follow::Gap;
        }
        tracked.cursor = cursor;
        Follow::Apply
    }

    /// [`Feed::poll`] when the store must be read: memberships changed, the inbox overflowed,
    /// join requests changed, or a batch does not follow on. `items` were already taken.
    async fn poll_store(&mut self, inbox: Inbox, mut items: Vec<FeedItem>) -> Result<Vec<FeedItem>> {
        if inbox.membership {
            self.reconcile(&mut items).await?;
        }
        if inbox.overflowed {
            let groups: Vec<GroupId> = self.groups.keys().copied().collect();
            for group in groups {
                self.catch_up(group, &mut items, false).await?;
            }
        }
        for group in inbox.requests {
            if !self.groups.contains_key(&group) {
                continue;
            }
            let membership = self.roster.store.membership(group, self.account).await?;
            if membership.is_some_and(|m| m.is_admin()) {
                items.push(FeedItem::Requests { group });
            }
        }
        for batch in inbox.batches {
            match self.follow(&batch) {
                Follow::Skip => {}
                Follow::Apply => items.push(FeedItem::Changes(batch)),
                Follow::Gap => self.catch_up(batch.group, &mut items, false).await?,
            }
        }
        Ok(items)
    }

    /// The periodic safety net: the terminal is still valid, memberships are current, and no
    /// group is behind its version (a lost bus message delays by at most one period).
    pub async fn check(&mut self) -> Result<Vec<FeedItem>> {
        let terminals = self.roster.store.terminals(self.account).await?;
        if !terminals.iter().any(|t| t.id == self.terminal) {
            return Ok(vec![FeedItem::Closed(CloseReason::Revoked)]);
        }
        let mut items = Vec::new();
        self.reconcile(&mut items).await?;
        let groups: Vec<(GroupId, i64)> = self.groups.iter().map(|(g, t)| (*g, t.cursor)).collect();
        for (group, cursor) in groups {
            let version = self.roster.store.group(group).await?.map_or(cursor, |g| g.version);
            if version > cursor {
                self.catch_up(group, &mut items, false).await?;
            }
        }
        Ok(items)
    }

    /// Records the terminal's acknowledgement; a cursor it was never sent is refused.
    pub fn ack(&mut self, group: GroupId, cursor: i64) -> Result<()> {
        match self.groups.get_mut(&group) {
            Some(tracked) if (0..=tracked.cursor).contains(&cursor) => {
                tracked.acked = tracked.acked.max(cursor);
                Ok(())
            }
            Some(_) => Err(Error::invalid("cursor", "beyond what was sent")),
            None => Err(Error::NotFound("group")),
        }
    }

    /// The last acknowledged cursor of a group.
    pub fn acked(&self, group: GroupId) -> Option<i64> {
        self.groups.get(&group).map(|t| t.acked)
    }

    fn track(&mut self, membership: Membership, cursor: i64) {
        self.roster.hub.watch(self.id, membership.group_id);
        self.groups
            .insert(membership.group_id, Tracked { cursor, acked: cursor });
    }

    fn untrack(&mut self, group: GroupId) {
        self.roster.hub.unwatch(self.id, group);
        self.groups.remove(&group);
    }

    async fn active_memberships(&self) -> Result<HashMap<GroupId, (Membership, String)>> {
        Ok(self
            .roster
            .store
            .groups_of(self.account)
            .await?
            .into_iter()
            .filter(|(_, m)| m.is_active())
            .filter(|(g, _)| self.scope.as_ref().is_none_or(|scope| scope.contains(&g.id)))
            .map(|(g, m)| (g.id, (m, g.name)))
            .collect())
    }

    async fn reconcile(&mut self, items: &mut Vec<FeedItem>) -> Result<()> {
        let active = self.active_memberships().await?;
        let gone: Vec<GroupId> = self
            .groups
            .keys()
            .filter(|g| !active.contains_key(g))
            .copied()
            .collect();
        for group in gone {
            self.untrack(group);
            items.push(FeedItem::Left { group });
        }
        for (group, (membership, name)) in active {
            if !self.groups.contains_key(&group) {
                items.push(FeedItem::Joined { group, name });
                self.track(membership, 0);
                self.catch_up(group, items, true).await?;
            }
        }
        Ok(())
    }

    /// Brings one group up to date from the change log, with the account's current
    /// membership (re-read: a removed member gets `Left`, never data).
    async fn catch_up(&mut self, group: GroupId, items: &mut Vec<FeedItem>, always_cursor: bool) -> Result<()> {
        let viewer = match self.roster.store.membership(group, self.account).await? {
            Some(m) if m.is_active() => m,
            _ => {
                if self.groups.contains_key(&group) {
                    self.untrack(group);
                    items.push(FeedItem::Left { group });
                }
                return Ok(());
            }
        };
        let Some(mut cursor) = self.groups.get(&group).map(|t| t.cursor) else {
            return Ok(());
        };
        let mut sent_cursor = false;
        loop {
            let changes = self.roster.changes_for(&viewer, cursor).await?;
            if changes.resync {
                items.push(FeedItem::Resync { group });
                cursor = self.send_directory(&viewer, changes.cursor, items).await?;
                sent_cursor = true;
                break;
            }
            if !changes.deltas.is_empty() || changes.cursor != cursor {
                items.push(FeedItem::Changes(Batch::new(
                    group,
                    cursor,
                    changes.deltas,
                    Some(changes.cursor),
                )));
                sent_cursor = true;
            }
            cursor = changes.cursor;
            if !changes.more {
                break;
            }
        }
        if always_cursor && !sent_cursor {
            items.push(FeedItem::Changes(Batch::new(group, cursor, Vec::new(), Some(cursor))));
        }
        if let Some(tracked) = self.groups.get_mut(&group) {
            tracked.cursor = cursor;
        }
        Ok(())
    }

    /// Sends the whole directory in batches; only the last carries the cursor, noted before
    /// the first page was read (later changes are then re-sent from there).
    async fn send_directory(&self, viewer: &Membership, version: i64, items: &mut Vec<FeedItem>) -> Result<i64> {
        let mut after = None;
        loop {
            let page = self.roster.directory_for(viewer, after, DIRECTORY_BATCH, None).await?;
            let last = page.next.is_none();
            let deltas = page
                .entries
                .into_iter()
                .map(|(account, card)| Delta::Upsert(account, Box::new(card)))
                .collect();
            items.push(FeedItem::Changes(Batch::new(
                viewer.group_id,
                version,
                deltas,
                last.then_some(version),
            )));
            if last {
                return Ok(version);
            }
            after = page.next;
        }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.roster
            .hub
            .unregister(self.id, self.account, self.terminal, self.groups.keys().copied());
    }
}
