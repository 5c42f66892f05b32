//! Backups of a whole installation, online, and their restore into an empty database.
//!
//! A backup is always one SQLite file, whatever the backend: SQLite copies itself with
//! `VACUUM INTO` (one read transaction: a consistent snapshot while the server goes on
//! writing); PostgreSQL is read in one `REPEATABLE READ` snapshot and copied into a new SQLite
//! file by [`migrate_store`], which verifies every table before it commits. A restore goes
//! the other way into an empty database of either backend.
//!
//! A restore brings back an older state than the terminals may hold. So that none of them
//! carries on from a cursor or sync token the restored log never had (or had for other
//! changes), [`restore`] moves every group's version *and* log floor far ahead: every cursor
//! from before is then below the floor, and each door answers it with a resync.
//!
//! This module is operations tooling used by the CLI and the app's schedule; it knows no
//! HTTP and holds no business rule.

use crate::store::migrate::migrate_store;
use crate::store::{Database, DatabaseSettings, Migrate, redacted};
use anyhow::{Context, bail};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

/// How far a restore moves every group's version and log floor: more changes than any group
/// can have made between a backup and its restore, and small enough that versions stay exact
/// in a JavaScript number (2^53) after millions of restores.
pub const RESTORE_JUMP: i64 = 1 << 32;

/// Names of scheduled backups start with this; others in the folder are left alone.
const SCHEDULED_PREFIX: &str = "roster-";
/// Names of the backups taken before migrations start with this (never pruned).
const BEFORE_MIGRATION_PREFIX: &str = "before-migration-";
/// The `server_keys` row that says when the last scheduled backup was claimed.
const CLAIM_KEY: &str = "backup-claimed-at";

/// A backup written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Backup {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Groups in it.
    pub groups: i64,
    /// Accounts in it.
    pub accounts: i64,
}

/// A restore done.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Restored {
    /// The database written, its password hidden.
    pub database: String,
    /// Groups restored, each moved to a new version so that every terminal resyncs.
    pub groups: i64,
    /// Accounts restored.
    pub accounts: i64,
}

/// Writes a consistent snapshot of `database` to the new SQLite file `to` while the server
/// may go on writing. Refuses a `to` that exists. The file appears only once it is complete
/// and checked (`integrity_check`), never half-written.
pub async fn backup(database: &Database, database_url: &str, to: &Path) -> anyhow::Result<Backup> {
    if to.exists() {
        bail!("{} exists: a backup never overwrites a file", to.display());
    }
    let folder = match to.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create the folder {}", folder.display()))?;
    let partial = partial_name(to);
    let _ = std::fs::remove_file(&partial);
    let written = async {
        match database {
            Database::Sqlite(store) => {
                let path = partial.to_str().context("the backup path is not UTF-8")?;
                sqlx::query("VACUUM INTO ?")
                    .bind(path)
                    .execute(store.pool())
                    .await
                    .with_context(|| format!("cannot write the backup {}", partial.display()))?;
            }
            Database::Postgres(_) => {
                migrate_store(database_url, &sqlite_url(&partial)?, &mut |_| {})
                    .await
                    .with_context(|| format!("cannot copy {} into a backup", redacted(database_url)))?;
            }
        }
        self_contained(&partial).await?;
        let backup = inspect(&partial).await?;
        std::fs::rename(&partial, to).with_context(|| format!("cannot name the backup {}", to.display()))?;
        Ok(Backup {
            path: to.to_path_buf(),
            ..backup
        })
    }
    .await;
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Restores the backup `from` into the empty database at `to_url` (a SQLite file that does
/// not exist yet, or an empty PostgreSQL database). The backup is checked first, brought to
/// this build's schema on a copy, and every group is moved [`RESTORE_JUMP`] versions ahead,
/// so that each terminal resyncs instead of trusting a cursor from after the backup.
pub async fn restore(from: &Path, to_url: &str) -> anyhow::Result<Restored> {
    let checked = inspect(from)
        .await
        .with_context(|| format!("{} is not a usable Roster backup", from.display()))?;
    let sqlite_target = match crate::store::Backend::of(to_url)? {
        crate::store::Backend::Sqlite => {
            let options =
                SqliteConnectOptions::from_str(to_url).with_context(|| format!("invalid SQLite URL {to_url}"))?;
            let path = options.get_filename().to_path_buf();
            for taken in [path.clone(), suffixed(&path, "-wal")] {
                if taken.exists() {
                    bail!(
                        "{} exists: restore writes only into an empty data folder (stop the server and \
                         move roster.db, roster.db-wal and roster.db-shm aside first)",
                        taken.display()
                    );
                }
            }
            Some(path)
        }
        crate::store::Backend::Postgres => None,
    };
    // The copy to prepare: beside the target (so that the last step is a rename), or in the
    // system's temporary folder for PostgreSQL.
    let work_dir = match &sqlite_target {
        Some(path) => {
            let dir = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
            dir
        }
        None => std::env::temp_dir(),
    };
    let work = work_dir.join(format!(".roster-restore-{}.db", uuid::Uuid::new_v4().simple()));
    let restored = async {
        std::fs::copy(from, &work).with_context(|| format!("cannot copy {} to {}", from.display(), work.display()))?;
        let copy = Database::open(&sqlite_url(&work)?, &DatabaseSettings::default(), Migrate::Yes)
            .await
            .context("cannot bring the backup to this Roster's schema")?;
        let Database::Sqlite(store) = &copy else {
            bail!("a backup is a SQLite file");
        };
        let mut tx = store.pool().begin_with("BEGIN IMMEDIATE").await?;
        // Both right-hand sides read the version from before the update.
        sqlx::query("UPDATE groups SET version = version + ?, floor = version + ?")
            .bind(RESTORE_JUMP)
            .bind(RESTORE_JUMP)
            .execute(&mut *tx)
            .await
            .context("cannot move the groups' versions")?;
        tx.commit().await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(store.pool())
            .await?;
        store.pool().close().await;
        match &sqlite_target {
            Some(path) => {
                for leftover in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(suffixed(&work, leftover));
                }
                std::fs::rename(&work, path)
                    .with_context(|| format!("cannot move the restored database to {}", path.display()))?;
            }
            None => {
                migrate_store(&sqlite_url(&work)?, to_url, &mut |_| {}).await?;
            }
        }
        Ok(Restored {
            database: redacted(to_url),
            groups: checked.groups,
            accounts: checked.accounts,
        })
    }
    .await;
    for leftover in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(suffixed(&work, leftover));
    }
    restored
}

/// Before the server applies migrations to an existing SQLite database, a backup of it as it
/// is, in `folder`: `before-migration-<newest applied>-<time>.db`. Nothing for a new or
/// up-to-date database; PostgreSQL is backed up by its operator (see the README).
pub async fn before_migrations(database_url: &str, folder: &Path) -> anyhow::Result<Option<PathBuf>> {
    if crate::store::Backend::of(database_url)? != crate::store::Backend::Sqlite {
        return Ok(None);
    }
    let options =
        SqliteConnectOptions::from_str(database_url).with_context(|| format!("invalid SQLite URL {database_url}"))?;
    if !options.get_filename().exists() || options.get_filename() == Path::new(":memory:") {
        return Ok(None);
    }
    let database = Database::open(database_url, &DatabaseSettings::default(), Migrate::No).await?;
    let migrations = database.migrations().await?;
    let applied = migrations.known - migrations.pending.len();
    if migrations.pending.is_empty() || applied == 0 {
        return Ok(None);
    }
    let last = sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success");
    let last = match &database {
        Database::Sqlite(store) => last.fetch_one(store.pool()).await?,
        Database::Postgres(_) => return Ok(None),
    };
    let to = folder.join(format!(
        "{BEFORE_MIGRATION_PREFIX}{last:04}-{}.db",
        stamp(OffsetDateTime::now_utc())
    ));
    let made = backup(&database, database_url, &to).await?;
    if let Database::Sqlite(store) = &database {
        store.pool().close().await;
    }
    Ok(Some(made.path))
}

/// When and how many scheduled backups (`backup_every`, `backup_keep`, `backup_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Time between two backups.
    pub every: Duration,
    /// Scheduled backups kept in the folder; older ones are deleted.
    pub keep: usize,
    /// The folder.
    pub folder: PathBuf,
}

/// Takes the scheduled backup if one is due, then prunes the folder to `keep`. With several
/// instances on one database, the instance that claims the slot in the database takes it;
/// the others do nothing. `Ok(None)`: not due, or another instance's turn.
pub async fn scheduled(database: &Database, database_url: &str, schedule: &Schedule) -> anyhow::Result<Option<Backup>> {
    let now = OffsetDateTime::now_utc();
    if !claim(database, now, schedule.every).await? {
        return Ok(None);
    }
    let to = schedule.folder.join(format!("{SCHEDULED_PREFIX}{}.db", stamp(now)));
    let made = backup(database, database_url, &to).await?;
    prune(&schedule.folder, schedule.keep)?;
    Ok(Some(made))
}

/// Deletes all but the newest `keep` scheduled backups in `folder` (by name: the time in it).
fn prune(folder: &Path, keep: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot list {}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(".db"))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let deleted: Vec<PathBuf> = backups.into_iter().take(excess).collect();
    for path in &deleted {
        std::fs::remove_file(path).with_context(|| format!("cannot delete the old backup {}", path.display()))?;
    }
    Ok(deleted)
}

/// Claims the next scheduled backup in the database: true for exactly one caller per period,
/// whichever instance asks. The time is stored as 8 big-endian bytes, which compare as
/// numbers in both backends.
async fn claim(database: &Database, now: OffsetDateTime, every: Duration) -> anyhow::Result<bool> {
    let now_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    let due_before = now_ms.saturating_sub(i64::try_from(every.as_millis()).unwrap_or(i64::MAX));
    let value = now_ms.to_be_bytes().to_vec();
    let threshold = due_before.max(0).to_be_bytes().to_vec();
    let claimed = match database {
        Database::Sqlite(store) => sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE \
             SET value = excluded.value WHERE server_keys.value <= ?",
        )
        .bind(CLAIM_KEY)
        .bind(value)
        .bind(threshold)
        .execute(store.pool())
        .await?
        .rows_affected(),
        Database::Postgres(store) => sqlx::query(
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE \
             SET value = excluded.value WHERE server_keys.value <= $3",
        )
        .bind(CLAIM_KEY)
        .bind(value)
        .bind(threshold)
        .execute(store.pool())
        .await?
        .rows_affected(),
    };
    Ok(claimed == 1)
}

/// Puts a new SQLite file in rollback-journal mode, which checkpoints any write-ahead log into
/// it: a backup is one file that can be moved, renamed and copied on its own.
async fn self_contained(path: &Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path))
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = DELETE")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    if mode != "delete" {
        bail!("{} stays in journal mode {mode}", path.display());
    }
    for leftover in ["-wal", "-shm"] {
        if suffixed(path, leftover).exists() {
            bail!("{} still has a {leftover} file", path.display());
        }
    }
    Ok(())
}

/// Checks that `path` is a whole SQLite database written by a Roster this build can read,
/// and counts what it holds.
async fn inspect(path: &Path) -> anyhow::Result<Backup> {
    if !path.is_file() {
        bail!("{} is not a file", path.display());
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    if integrity != "ok" {
        bail!("{} is damaged: {integrity}", path.display());
    }
    let counted: Result<(i64, i64), sqlx::Error> =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM groups), (SELECT COUNT(*) FROM accounts)")
            .fetch_one(&mut conn)
            .await;
    let Ok((groups, accounts)) = counted else {
        bail!("{} holds no Roster installation", path.display());
    };
    let has_log: Option<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
            .fetch_optional(&mut conn)
            .await?;
    let applied: Vec<i64> = match has_log {
        Some(_) => {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&mut conn)
                .await?
        }
        None => bail!("{} holds no Roster installation", path.display()),
    };
    conn.close().await?;
    let migrations = crate::store::sqlite::migrations_of(&applied);
    if !migrations.unknown.is_empty() {
        bail!(
            "{} was written by a newer Roster (migrations {:?}): restore it with that version",
            path.display(),
            migrations.unknown
        );
    }
    let bytes = std::fs::metadata(path)?.len();
    Ok(Backup {
        path: path.to_path_buf(),
        bytes,
        groups,
        accounts,
    })
}

/// A `sqlite://` URL for a file path.
fn sqlite_url(path: &Path) -> anyhow::Result<String> {
    let path = path.to_str().context("the path is not UTF-8")?;
    Ok(format!("sqlite://{path}"))
}

/// `path` with `suffix` after its file name (`roster.db` → `roster.db-wal`).
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a backup is written until it is complete.
fn partial_name(to: &Path) -> PathBuf {
    suffixed(to, ".partial")
}

/// A UTC time as it appears in backup names: sortable, no characters file systems refuse.
fn stamp(at: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// Reads `backup_every`: a number and a unit, `30m`, `6h`, `1d` (at least one minute).
pub fn parse_every(text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("backup_every `{text}`: expected a number and a unit, e.g. 6h or 1d"))?;
    let seconds = match unit.trim() {
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => bail!("backup_every `{text}`: unknown unit `{other}` (use m, h, d or w)"),
    };
    let every = Duration::from_secs(number.saturating_mul(seconds));
    if every < Duration::from_secs(60) {
        bail!("backup_every `{text}`: at least one minute");
    }
    Ok(every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reads_a_number_and_a_unit() {
        assert_eq!(parse_every("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_every("6h").unwrap(), Duration::from_secs(6 * 3600));
        assert_eq!(parse_every(" 1d ").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_every("2w").unwrap(), Duration::from_secs(14 * 86_400));
        for bad in ["", "h", "6", "6x", "0m", "-1d", "1.5h"] {
            assert!(parse_every(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pruning_keeps_the_newest_scheduled_backups_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "roster-20261201T000000Z.db",
            "roster-20261202T000000Z.db",
            "roster-20261203T000000Z.db",
            "before-migration-0013-20261101T000000Z.db",
            "notes.txt",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let deleted = prune(dir.path(), 2).unwrap();
        assert_eq!(deleted, vec![dir.path().join("roster-20261201T000000Z.db")]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "before-migration-0013-20261101T000000Z.db",
                "notes.txt",
                "roster-20261202T000000Z.db",
                "roster-20261203T000000Z.db"
            ]
        );
    }

    #[test]
    fn stamps_sort_as_times() {
        let a = stamp(time::macros::datetime!(2026-12-07 09:05:03 UTC));
        let b = stamp(time::macros::datetime!(2026-12-07 10:00:00 UTC));
        assert_eq!(a, "20261207T090503Z");
        assert!(a < b);
    }
}
