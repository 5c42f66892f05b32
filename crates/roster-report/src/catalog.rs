//! The figures the page knows, in the order it shows them: each id's title, x axis and what
//! it measures. An id found in the results but not listed here is still drawn, after these,
//! under its own name.

/// How one figure is titled, labelled and explained.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    pub(crate) id: String,
    pub(crate) title: String,
    /// The x axis' label, with its unit.
    pub(crate) x_label: String,
    /// A logarithmic x axis (sizes from 100 to 100,000).
    pub(crate) log_x: bool,
    /// What y is, before its unit: `time`, `delivery latency`.
    pub(crate) y_what: String,
    /// What is measured, how, and by which bench: a paragraph of the page.
    pub(crate) what: String,
    /// The command that produces just this figure's points.
    pub(crate) source: String,
}

fn spec(id: &str, title: &str, x_label: &str, log_x: bool, what: &str, source: &str) -> Spec {
    Spec {
        id: id.into(),
        title: title.into(),
        x_label: x_label.into(),
        log_x,
        y_what: if id == "fanout" { "delivery latency" } else { "time" }.into(),
        what: what.into(),
        source: source.into(),
    }
}

/// The known figures, in page order.
pub(crate) fn known() -> Vec<Spec> {
    vec![
        spec(
            "group-size-directory",
            "Directory reads vs group size",
            "members of the group",
            true,
            "The directory as a terminal reads it, through the domain's use case (as the HTTP \
             handler calls it), on SQLite: the first page of 100 cards, and the whole directory \
             read by a new terminal in pages of 1,000. Median of 31 (first page) and 3 (whole) \
             runs. The first page should not grow with the group; the whole directory grows \
             with it, linearly.",
            "ROSTER_BENCH_SIZES=100,1000,10000,100000 cargo bench -p roster-server --bench scale",
        ),
        spec(
            "group-size-changes",
            "One-change incremental read vs group size",
            "members of the group",
            true,
            "`changes?since=V-1` after exactly one change, through the domain, on SQLite: it \
             reads the change log, not the group, so it should cost the same at 100 and at \
             100,000 members. Median of 201 runs.",
            "ROSTER_BENCH_SIZES=100,1000,10000,100000 cargo bench -p roster-server --bench scale",
        ),
        spec(
            "group-size-carddav",
            "CardDAV sync-collection after one change vs group size",
            "members of the group",
            true,
            "A phone's incremental `sync-collection` REPORT over loopback after exactly one \
             card changed: like the incremental read, it should not grow with the group.",
            "cargo bench -p roster-server --bench carddav -- sync_scenarios",
        ),
        spec(
            "carddav-after-change",
            "First full CardDAV sync after one change: Roster, Radicale, Xandikos",
            "cards in the address book",
            true,
            "The case of every polling phone: one card changed, then the phone lists the book \
             (PROPFIND Depth 1) and fetches every card (addressbook-multiget by 100), against \
             each server holding the very same cards, each in its own process, in the same run, \
             over loopback, at each group size run up to 10,000 cards. y is the server process's CPU time for the whole sync (user + system), \
             median of 5 runs: the work each server does, apart from the client's.",
            "cargo bench -p roster-server --bench carddav -- sync_scenarios",
        ),
        spec(
            "carddav-after-change-wall",
            "First full CardDAV sync after one change, wall time: Roster, Radicale, Xandikos",
            "cards in the address book",
            true,
            "The same syncs timed as the phone sees them: wall time from the first request to \
             the last card received, median of 5 runs (client and server share the machine's cores).",
            "cargo bench -p roster-server --bench carddav -- sync_scenarios",
        ),
        spec(
            "fanout",
            "Stream fan-out latency vs connected terminals",
            "connected terminals",
            false,
            "`roster-load push`: the real server as a child process on loopback, N terminals \
             holding a WebSocket stream each; a card changes and the time until each terminal \
             has the change is taken, over 5 rounds; p50 and p99 of those delivery times. \
             Server and tool are pinned to one core each (`--server-cpus 0 --tool-cpus 1`).",
            "target/release/roster-load --terminals N --members 100 --server-cpus 0 \
             --tool-cpus 1 push --rounds 5",
        ),
    ]
}

/// The spec of `id`: the known one, or a plain one named after the id.
pub(crate) fn lookup(id: &str) -> Spec {
    known()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| spec(id, id, "x", false, "A figure this report does not describe yet.", ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids_are_unique_and_unknown_ones_get_a_plain_spec() {
        let known = known();
        let mut ids: Vec<&str> = known.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), known.len());
        assert!(lookup("group-size-changes").log_x);
        assert_eq!(lookup("something-new").title, "something-new");
    }
}
