//! Server configuration: command-line flags and `ROSTER_*` environment variables over an
//! optional TOML file over defaults, validated once into a [`Config`].

use crate::domain::account::Registration;
use crate::domain::limits::RateSettings;
use crate::domain::password::PasswordSettings;
use crate::domain::phone::Region;
use crate::domain::push::{PushOrigin, default_push_origins};
use crate::http::serve::ListenLimits;
use crate::store::backup::{Schedule, parse_every};
use crate::store::{Backend, DatabaseSettings};
use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Flags of `roster serve`; each has a `ROSTER_*` variable and a key in the config file.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (keys as the long flags, with `_` for `-`).
    #[arg(long, env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ROSTER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Folder for the embedded database [default: ./roster-data].
    #[arg(long, env = "ROSTER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://PATH`, or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
    /// for several instances on one database [default: sqlite://<data-dir>/roster.db].
    #[arg(long, env = "ROSTER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Most connections in the database pool [default: 8 on SQLite, 16 on PostgreSQL].
    #[arg(long, env = "ROSTER_DATABASE_MAX_CONNECTIONS")]
    pub database_max_connections: Option<u32>,
    /// Longest a database statement may run on PostgreSQL, in seconds [default: 30].
    #[arg(long, env = "ROSTER_DATABASE_STATEMENT_TIMEOUT")]
    pub database_statement_timeout: Option<u64>,
    /// How instances tell each other what changed: `local` (a single instance), `postgres`
    /// (the database's LISTEN/NOTIFY) or `nats://HOST:PORT` [default: `local` on SQLite,
    /// `postgres` on PostgreSQL].
    #[arg(long, env = "ROSTER_BUS", hide_env_values = true)]
    pub bus: Option<String>,
    /// Region (ISO 3166 code) for phone numbers written without a country code [default: US].
    #[arg(long, env = "ROSTER_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Public base URL of this server, used in invite links [default: http://<listen>].
    #[arg(long, env = "ROSTER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Log as JSON lines instead of text (the same as `--log-format json`).
    #[arg(long, env = "ROSTER_LOG_JSON")]
    pub log_json: bool,
    /// Log format: `text` for people, `json` for log collectors (one object per line)
    /// [default: text].
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Origins of the push services WebDAV-Push may post to, comma-separated
    /// (`https://push.example.org`, `https://*.example.org`) [default: FCM, Mozilla, Apple, ntfy.sh].
    #[arg(long, env = "ROSTER_PUSH_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub push_allowed_origins: Option<Vec<String>>,
    /// Contact for push-service operators in VAPID tokens, `mailto:` or `https:` [default: the public URL].
    #[arg(long, env = "ROSTER_PUSH_CONTACT")]
    pub push_contact: Option<String>,
    /// Most cards in one page of a CardDAV sync-collection answer [default: 1000].
    #[arg(long, env = "ROSTER_CARDDAV_SYNC_PAGE")]
    pub carddav_sync_page: Option<usize>,
    /// Who may create accounts: `open`, `invite-only` (only with a valid invite code) or
    /// `closed` [default: open].
    #[arg(long, env = "ROSTER_REGISTRATION")]
    pub registration: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed, comma-separated addresses or
    /// networks (`127.0.0.1`, `10.0.0.0/8`, `::1`) [default: none].
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// Serve `/metrics` on this address only (not on the main listener) [default: the main listener].
    #[arg(long, env = "ROSTER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token that `/metrics` asks for [default: none; the endpoint is open].
    #[arg(long, env = "ROSTER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Take a backup this often while serving: a number and a unit, `30m`, `6h`, `1d`
    /// [default: none].
    #[arg(long, env = "ROSTER_BACKUP_EVERY")]
    pub backup_every: Option<String>,
    /// Scheduled backups kept; older ones are deleted [default: 7].
    #[arg(long, env = "ROSTER_BACKUP_KEEP")]
    pub backup_keep: Option<usize>,
    /// Folder of scheduled backups and of those taken before migrations
    /// [default: <data-dir>/backups].
    #[arg(long, env = "ROSTER_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
}

/// Keys of the optional TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    database_statement_timeout: Option<u64>,
    bus: Option<String>,
    default_region: Option<String>,
    public_url: Option<String>,
    max_body_bytes: Option<usize>,
    photo_max_bytes: Option<usize>,
    max_group_size: Option<u32>,
    lockout_after: Option<i64>,
    lockout_minutes: Option<u64>,
    logins_per_minute: Option<u32>,
    total_logins_per_minute: Option<u32>,
    password_workers: Option<usize>,
    password_queue_seconds: Option<u64>,
    registrations_per_hour: Option<u32>,
    invites_per_hour: Option<u32>,
    reads_per_minute: Option<u32>,
    carddav_main_password: Option<bool>,
    carddav_sync_page: Option<usize>,
    log_keep_versions: Option<i64>,
    log_keep_days: Option<u64>,
    push_allowed_origins: Option<Vec<String>>,
    push_contact: Option<String>,
    push_coalesce_ms: Option<u64>,
    registration: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    password_checks_per_hour: Option<u32>,
    card_writes_per_minute: Option<u32>,
    multiget_cards_per_minute: Option<u32>,
    stream_connects_per_minute: Option<u32>,
    streams_per_account: Option<u32>,
    max_connections: Option<usize>,
    header_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    metrics_listen: Option<SocketAddr>,
    metrics_token: Option<String>,
    log_format: Option<String>,
    backup_every: Option<String>,
    backup_keep: Option<usize>,
    backup_dir: Option<PathBuf>,
}

/// The validated configuration of one server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Database URL.
    pub database_url: String,
    /// Database pool settings.
    pub database: DatabaseSettings,
    /// The bus between instances, as configured (`None`: the backend's default).
    pub bus: Option<String>,
    /// Region for national phone numbers.
    pub default_region: Region,
    /// Public base URL, if set; otherwise derived from the bound address.
    pub public_url: Option<String>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Largest photo after decoding.
    pub photo_max_bytes: usize,
    /// Largest group.
    pub max_group_size: u32,
    /// Failed logins before lock-out.
    pub lockout_after: i64,
    /// Lock-out duration.
    pub lockout_for: Duration,
    /// Rate limits.
    pub rates: RateSettings,
    /// Password hashing concurrency and queue wait.
    pub passwords: PasswordSettings,
    /// Change-log entries kept per group at least.
    pub log_keep_versions: i64,
    /// Change-log entries younger than this are kept.
    pub log_keep_for: Duration,
    /// Log as JSON.
    pub log_json: bool,
    /// Accept the account's main password over CardDAV (app passwords are always accepted).
    pub carddav_main_password: bool,
    /// Origins WebDAV-Push may post to.
    pub push_allowed_origins: Vec<PushOrigin>,
    /// VAPID contact, if set; otherwise the public URL.
    pub push_contact: Option<String>,
    /// At most one push per subscription per this window.
    pub push_coalesce: Duration,
    /// Most cards in one page of a sync-collection answer; longer ones continue in pages
    /// (RFC 6578 §3.6), which DAVx5 saves one by one.
    pub carddav_sync_page: usize,
    /// Who may create accounts.
    pub registration: Registration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Connection cap and header timeout of the listener.
    pub listen_limits: ListenLimits,
    /// Longest wait for the next piece of a request body.
    pub body_timeout: Duration,
    /// Separate listen address for `/metrics`, if any.
    pub metrics_listen: Option<SocketAddr>,
    /// Bearer token for `/metrics`, if any.
    pub metrics_token: Option<String>,
    /// Where backups go: scheduled ones and those taken before migrations.
    pub backup_dir: PathBuf,
    /// The backup schedule, if any.
    pub backup: Option<Schedule>,
}

impl Config {
    /// Defaults for a server with its database at `database_url`.
    pub fn new(database_url: impl Into<String>) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: database_url.into(),
            database: DatabaseSettings::default(),
            bus: None,
            default_region: Region::default(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            photo_max_bytes: 256 * 1024,
            max_group_size: 100_000,
            lockout_after: 10,
            lockout_for: Duration::from_secs(15 * 60),
            rates: RateSettings::default(),
            passwords: PasswordSettings::default(),
            log_keep_versions: 10_000,
            log_keep_for: Duration::from_secs(30 * 24 * 3600),
            log_json: false,
            carddav_main_password: false,
            push_allowed_origins: default_push_origins(),
            push_contact: None,
            push_coalesce: Duration::from_millis(1500),
            carddav_sync_page: 1000,
            registration: Registration::Open,
            trusted_proxies: Vec::new(),
            listen_limits: ListenLimits::default(),
            body_timeout: Duration::from_secs(30),
            metrics_listen: None,
            metrics_token: None,
            backup_dir: PathBuf::from("roster-data").join("backups"),
            backup: None,
        }
    }

    /// Merges flags, environment and file over the defaults; creates the data folder when
    /// the default SQLite database is used.
    pub fn load(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("roster-data"));
        let database_url = match args.database_url.clone().or(file.database_url) {
            Some(url) => url,
            None => {
                std::fs::create_dir_all(&data_dir)
                    .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
                format!("sqlite://{}", data_dir.join("roster.db").display())
            }
        };
        Backend::of(&database_url)?;
        let mut config = Config::new(database_url);
        config.backup_dir = args
            .backup_dir
            .clone()
            .or(file.backup_dir)
            .unwrap_or_else(|| data_dir.join("backups"));
        let keep = args.backup_keep.or(file.backup_keep).unwrap_or(7);
        config.backup = match args.backup_every.as_deref().or(file.backup_every.as_deref()) {
            None => None,
            Some(_) if keep == 0 => bail!("backup_keep must be positive"),
            Some(every) => Some(Schedule {
                every: parse_every(every)?,
                keep,
                folder: config.backup_dir.clone(),
            }),
        };
        config.database.max_connections = match args.database_max_connections.or(file.database_max_connections) {
            Some(0) => bail!("database_max_connections must be positive"),
            other => other,
        };
        config.database.statement_timeout = match args.database_statement_timeout.or(file.database_statement_timeout) {
            Some(0) => bail!("database_statement_timeout must be positive (seconds)"),
            other => other.map(Duration::from_secs),
        };
        config.bus = args.bus.clone().or(file.bus).filter(|bus| !bus.trim().is_empty());
        if let Some(listen) = args.listen.or(file.listen) {
            config.listen = listen;
        }
        if let Some(region) = args.default_region.clone().or(file.default_region) {
            config.default_region = region
                .parse()
                .map_err(|e: String| anyhow::anyhow!("default region: {e}"))?;
        }
        config.public_url = args.public_url.clone().or(file.public_url);
        if let Some(url) = &config.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("public URL `{url}` must start with http:// or https://");
        }
        let positive = |name: &str, value: Option<usize>, default: usize| -> anyhow::Result<usize> {
            match value {
                Some(0) => bail!("{name} must be positive"),
                Some(v) => Ok(v),
                None => Ok(default),
            }
        };
        config.max_body_bytes = positive("max_body_bytes", file.max_body_bytes, config.max_body_bytes)?;
        config.photo_max_bytes = positive("photo_max_bytes", file.photo_max_bytes, config.photo_max_bytes)?;
        if config.photo_max_bytes.saturating_mul(4) / 3 >= config.max_body_bytes {
            bail!("max_body_bytes must exceed the base64 size of photo_max_bytes");
        }
        config.max_group_size = file.max_group_size.unwrap_or(config.max_group_size).max(2);
        config.lockout_after = file.lockout_after.unwrap_or(config.lockout_after).max(1);
        if let Some(minutes) = file.lockout_minutes {
            config.lockout_for = Duration::from_secs(minutes * 60);
        }
        let rates = &mut config.rates;
        rates.logins_per_minute = file.logins_per_minute.unwrap_or(rates.logins_per_minute);
        rates.total_logins_per_minute = file.total_logins_per_minute.unwrap_or(rates.total_logins_per_minute);
        config.passwords.workers = positive("password_workers", file.password_workers, config.passwords.workers)?;
        if let Some(seconds) = file.password_queue_seconds {
            config.passwords.queue_wait = Duration::from_secs(seconds.max(1));
        }
        rates.registrations_per_hour = file.registrations_per_hour.unwrap_or(rates.registrations_per_hour);
        rates.invites_per_hour = file.invites_per_hour.unwrap_or(rates.invites_per_hour);
        rates.reads_per_minute = file.reads_per_minute.unwrap_or(rates.reads_per_minute);
        rates.password_checks_per_hour = file.password_checks_per_hour.unwrap_or(rates.password_checks_per_hour);
        rates.card_writes_per_minute = file.card_writes_per_minute.unwrap_or(rates.card_writes_per_minute);
        rates.multiget_cards_per_minute = file
            .multiget_cards_per_minute
            .unwrap_or(rates.multiget_cards_per_minute);
        rates.stream_connects_per_minute = file
            .stream_connects_per_minute
            .unwrap_or(rates.stream_connects_per_minute);
        rates.streams_per_account = file.streams_per_account.unwrap_or(rates.streams_per_account).max(1);
        if let Some(mode) = args.registration.clone().or(file.registration) {
            config.registration = mode.parse().map_err(|e: String| anyhow::anyhow!("registration: {e}"))?;
        }
        if let Some(proxies) = args.trusted_proxies.clone().or(file.trusted_proxies) {
            config.trusted_proxies = proxies
                .iter()
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .map(parse_network)
                .collect::<anyhow::Result<_>>()?;
        }
        config.carddav_main_password = file.carddav_main_password.unwrap_or(false);
        config.carddav_sync_page = positive(
            "carddav_sync_page",
            args.carddav_sync_page.or(file.carddav_sync_page),
            config.carddav_sync_page,
        )?;
        config.log_keep_versions = file.log_keep_versions.unwrap_or(config.log_keep_versions).max(0);
        if let Some(days) = file.log_keep_days {
            config.log_keep_for = Duration::from_secs(days * 24 * 3600);
        }
        if let Some(origins) = args.push_allowed_origins.clone().or(file.push_allowed_origins) {
            config.push_allowed_origins = origins
                .iter()
                .filter(|o| !o.trim().is_empty())
                .map(|o| o.parse())
                .collect::<Result<_, String>>()
                .map_err(|e| anyhow::anyhow!("push_allowed_origins: {e}"))?;
        }
        config.push_contact = args.push_contact.clone().or(file.push_contact);
        if let Some(contact) = &config.push_contact
            && !(contact.starts_with("mailto:") || contact.starts_with("https://"))
        {
            bail!("push contact `{contact}` must start with mailto: or https://");
        }
        if let Some(ms) = file.push_coalesce_ms {
            config.push_coalesce = Duration::from_millis(ms.max(1));
        }
        config.listen_limits.max_connections = positive(
            "max_connections",
            file.max_connections,
            config.listen_limits.max_connections,
        )?;
        if let Some(seconds) = file.header_timeout_seconds {
            config.listen_limits.header_timeout = Duration::from_secs(seconds.max(1));
        }
        if let Some(seconds) = file.body_timeout_seconds {
            config.body_timeout = Duration::from_secs(seconds.max(1));
        }
        config.metrics_listen = args.metrics_listen.or(file.metrics_listen);
        config.metrics_token = args
            .metrics_token
            .clone()
            .or(file.metrics_token)
            .filter(|token| !token.is_empty());
        if config
            .metrics_listen
            .is_some_and(|address| address == config.listen && address.port() != 0)
        {
            bail!("metrics_listen must differ from listen");
        }
        config.log_json = match args.log_format.as_deref().or(file.log_format.as_deref()) {
            None => args.log_json,
            Some("json") => true,
            Some("text") if args.log_json => bail!("--log-json and log_format text contradict each other"),
            Some("text") => false,
            Some(other) => bail!("log_format must be `text` or `json`, not `{other}`"),
        };
        Ok(config)
    }
}

#[cfg(feature = "test-util")]
impl Config {
    /// The one configuration of tests, benchmarks and the load tool (feature `test-util`):
    /// its database in `data_dir`, any free loopback port, region DE, and rate limits high
    /// enough that only the tests about them meet them. Callers that need another value
    /// (a lower limit under test) set that field after this.
    #[expect(clippy::expect_used, reason = "`DE` is a constant that always parses")]
    pub fn for_tests(data_dir: &Path) -> Self {
        let mut config = Config::new(format!("sqlite://{}", data_dir.join("roster.db").display()));
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.backup_dir = data_dir.join("backups");
        config.default_region = "DE".parse().expect("DE is a region");
        config.rates = RateSettings {
            registrations_per_hour: 10_000,
            logins_per_minute: 10_000,
            total_logins_per_minute: 10_000,
            reads_per_minute: 100_000,
            invites_per_hour: 10_000,
            password_checks_per_hour: 10_000,
            card_writes_per_minute: 100_000,
            multiget_cards_per_minute: 1_000_000,
            stream_connects_per_minute: 100_000,
            ..RateSettings::default()
        };
        config
    }
}

/// An address (a network of one) or a network in CIDR notation.
fn parse_network(text: &str) -> anyhow::Result<ipnet::IpNet> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| anyhow::anyhow!("trusted_proxies: `{text}` is neither an address nor a network (10.0.0.0/8)"))
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid configuration file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndefault_region = \"DE\"\nreads_per_minute = 5\ncarddav_sync_page = 50\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            data_dir: Some(dir.path().join("data")),
            default_region: Some("FR".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.default_region, "FR".parse().unwrap());
        assert_eq!(config.rates.reads_per_minute, 5);
        assert_eq!(config.carddav_sync_page, 50);
        assert!(config.database_url.ends_with("data/roster.db"));
        assert!(dir.path().join("data").is_dir());
    }

    #[test]
    fn postgres_urls_pool_settings_and_the_bus_are_read_and_secrets_stay_out_of_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "database_url = \"postgres://roster@db.internal/roster\"\ndatabase_max_connections = 40\n\
             database_statement_timeout = 12\nbus = \"nats://127.0.0.1:4222\"\n",
        )
        .unwrap();
        let config = Config::load(&ServeArgs {
            config: Some(file.clone()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(config.database_url, "postgres://roster@db.internal/roster");
        assert_eq!(
            config.database,
            DatabaseSettings {
                max_connections: Some(40),
                statement_timeout: Some(Duration::from_secs(12)),
            }
        );
        assert_eq!(config.bus.as_deref(), Some("nats://127.0.0.1:4222"));
        // Flags (and their variables) win; no data folder is made for a remote database.
        let config = Config::load(&ServeArgs {
            config: Some(file),
            data_dir: Some(dir.path().join("unused")),
            database_max_connections: Some(4),
            bus: Some("local".into()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(config.database.max_connections, Some(4));
        assert_eq!(config.bus.as_deref(), Some("local"));
        assert!(!dir.path().join("unused").exists());

        let refused = |args: ServeArgs| format!("{:#}", Config::load(&args).unwrap_err());
        let message = refused(ServeArgs {
            database_url: Some("mysql://root:hunter2@db/roster".into()),
            ..ServeArgs::default()
        });
        assert!(
            message.contains("unsupported database URL") && !message.contains("hunter2"),
            "{message}"
        );
        let message = refused(ServeArgs {
            database_url: Some("postgres://roster@db/roster".into()),
            database_max_connections: Some(0),
            ..ServeArgs::default()
        });
        assert!(
            message.contains("database_max_connections must be positive"),
            "{message}"
        );
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(&file, "listen = \"nowhere\"\n").unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            ..ServeArgs::default()
        };
        assert!(
            Config::load(&args)
                .unwrap_err()
                .to_string()
                .contains("invalid configuration file")
        );
        std::fs::write(&file, "colour = \"blue\"\n").unwrap();
        assert!(Config::load(&args).is_err());
        let args = ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            default_region: Some("XX".into()),
            ..ServeArgs::default()
        };
        assert!(Config::load(&args).unwrap_err().to_string().contains("default region"));
        let args = ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            carddav_sync_page: Some(0),
            ..ServeArgs::default()
        };
        assert!(
            Config::load(&args)
                .unwrap_err()
                .to_string()
                .contains("carddav_sync_page")
        );
    }

    #[test]
    fn registration_mode_and_trusted_proxies_come_from_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "registration = \"invite-only\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            database_url: Some("sqlite::memory:".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.registration, Registration::InviteOnly);
        let proxies: Vec<String> = config.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["10.0.0.0/8", "::1/128"]);
        let args = ServeArgs {
            registration: Some("closed".into()),
            trusted_proxies: Some(vec!["127.0.0.1".into()]),
            ..args
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.registration, Registration::Closed);
        assert_eq!(config.trusted_proxies.len(), 1);
        let defaults = Config::new("sqlite::memory:");
        assert_eq!(defaults.registration, Registration::Open);
        assert!(defaults.trusted_proxies.is_empty());
        for (bad, what) in [
            ("registration = \"maybe\"\n", "registration"),
            ("trusted_proxies = [\"proxy.example.org\"]\n", "trusted_proxies"),
        ] {
            std::fs::write(&file, bad).unwrap();
            let args = ServeArgs {
                config: Some(file.clone()),
                database_url: Some("sqlite::memory:".into()),
                ..ServeArgs::default()
            };
            assert!(Config::load(&args).unwrap_err().to_string().contains(what), "{bad}");
        }
    }

    #[test]
    fn the_backup_schedule_comes_from_the_file_or_flags_and_is_validated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(&file, "backup_every = \"6h\"\nbackup_keep = 3\n").unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            data_dir: Some(dir.path().join("data")),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(
            config.backup,
            Some(Schedule {
                every: Duration::from_secs(6 * 3600),
                keep: 3,
                folder: dir.path().join("data").join("backups"),
            })
        );
        let args = ServeArgs {
            backup_every: Some("1d".into()),
            backup_dir: Some(dir.path().join("elsewhere")),
            ..args
        };
        let config = Config::load(&args).unwrap();
        let schedule = config.backup.unwrap();
        assert_eq!(schedule.every, Duration::from_secs(86_400));
        assert_eq!(schedule.folder, dir.path().join("elsewhere"));
        assert_eq!(config.backup_dir, dir.path().join("elsewhere"));
        // No schedule unless asked for; backups before migrations still go to the folder.
        let plain = Config::load(&ServeArgs {
            data_dir: Some(dir.path().join("data")),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(plain.backup, None);
        assert_eq!(plain.backup_dir, dir.path().join("data").join("backups"));
        for (bad, what) in [
            ("backup_every = \"often\"\n", "backup_every"),
            ("backup_every = \"30s\"\n", "backup_every"),
            ("backup_every = \"1d\"\nbackup_keep = 0\n", "backup_keep"),
        ] {
            std::fs::write(&file, bad).unwrap();
            let args = ServeArgs {
                config: Some(file.clone()),
                data_dir: Some(dir.path().join("data")),
                ..ServeArgs::default()
            };
            assert!(Config::load(&args).unwrap_err().to_string().contains(what), "{bad}");
        }
    }

    #[test]
    fn resource_limits_come_from_the_file_and_metrics_settings_from_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "max_connections = 100\nheader_timeout_seconds = 3\nbody_timeout_seconds = 4\n\
             password_workers = 3\npassword_queue_seconds = 2\nlogins_per_minute = 7\n\
             total_logins_per_minute = 70\nmetrics_token = \"from-file\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            database_url: Some("sqlite::memory:".into()),
            metrics_listen: Some("127.0.0.1:9090".parse().unwrap()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen_limits.max_connections, 100);
        assert_eq!(config.listen_limits.header_timeout, Duration::from_secs(3));
        assert_eq!(config.body_timeout, Duration::from_secs(4));
        assert_eq!(config.passwords.workers, 3);
        assert_eq!(config.passwords.queue_wait, Duration::from_secs(2));
        assert_eq!(config.rates.logins_per_minute, 7);
        assert_eq!(config.rates.total_logins_per_minute, 70);
        assert_eq!(config.metrics_token.as_deref(), Some("from-file"));
        assert_eq!(config.metrics_listen, Some("127.0.0.1:9090".parse().unwrap()));
        let args = ServeArgs {
            metrics_token: Some("from-flag".into()),
            ..args
        };
        assert_eq!(Config::load(&args).unwrap().metrics_token.as_deref(), Some("from-flag"));

        std::fs::write(&file, "max_connections = 0\n").unwrap();
        let args = ServeArgs {
            config: Some(file),
            database_url: Some("sqlite::memory:".into()),
            ..ServeArgs::default()
        };
        assert!(Config::load(&args).unwrap_err().to_string().contains("max_connections"));
    }

    #[test]
    fn push_settings_come_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("roster.toml");
        std::fs::write(
            &file,
            "push_allowed_origins = [\"https://ntfy.example.org\", \"https://*.push.example.net\"]\n\
             push_contact = \"mailto:ops@example.org\"\npush_coalesce_ms = 250\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            database_url: Some("sqlite::memory:".into()),
            ..ServeArgs::default()
        };
        let config = Config::load(&args).unwrap();
        let origins: Vec<String> = config.push_allowed_origins.iter().map(ToString::to_string).collect();
        assert_eq!(
            origins,
            ["https://ntfy.example.org:443", "https://*.push.example.net:443"]
        );
        assert_eq!(config.push_contact.as_deref(), Some("mailto:ops@example.org"));
        assert_eq!(config.push_coalesce, Duration::from_millis(250));

        // Flags and ROSTER_PUSH_* variables win over the file.
        let args = ServeArgs {
            push_allowed_origins: Some(vec!["http://127.0.0.1:9999".into()]),
            push_contact: Some("https://example.org/contact".into()),
            ..args
        };
        let config = Config::load(&args).unwrap();
        assert_eq!(config.push_allowed_origins.len(), 1);
        assert_eq!(config.push_contact.as_deref(), Some("https://example.org/contact"));

        let defaults = Config::load(&ServeArgs {
            database_url: Some("sqlite::memory:".into()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(defaults.push_allowed_origins, default_push_origins());

        for bad in [
            "push_allowed_origins = [\"ftp://x\"]\n",
            "push_contact = \"http://example.org\"\n",
        ] {
            std::fs::write(&file, bad).unwrap();
            let args = ServeArgs {
                config: Some(file.clone()),
                database_url: Some("sqlite::memory:".into()),
                ..ServeArgs::default()
            };
            assert!(Config::load(&args).unwrap_err().to_string().contains("push"), "{bad}");
        }
    }
}
