//! Builds a whole server from a [`Config`] and runs it until told to stop.

use crate::config::Config;
use crate::domain::card::CardRules;
use crate::domain::doctor::{PHONE_RULES, PhoneReport};
use crate::domain::ports::Bus;
use crate::domain::push::PushSettings;
use crate::domain::{Roster, Settings};
use crate::http::serve::{self, ListenLimits};
use crate::http::{self, AppState, HttpSettings};
use crate::push::Dispatcher;
use crate::store::{Backend, Database, Migrate, backup};
use anyhow::Context;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: ListenLimits,
    metrics: Option<(TcpListener, Router)>,
    roster: Arc<Roster>,
    backups: Option<(Database, String, backup::Schedule)>,
}

impl Application {
    /// Opens the database (running migrations), binds the listen address and assembles the
    /// routes.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // An upgrade's migrations change the only copy of everyone's data: keep it as it was.
        if let Some(path) = backup::before_migrations(&config.database_url, &config.backup_dir)
            .await
            .context("cannot back up the database before migrating it")?
        {
            tracing::info!(backup = %path.display(), "database backed up before its migrations");
        }
        let database = Database::open(&config.database_url, &config.database, Migrate::Yes).await?;
        Self::build_on(config, database).await
    }

    /// Like [`Application::build`], on a database opened by the caller (tests reach its pool).
    pub async fn build_on(config: Config, database: Database) -> anyhow::Result<Self> {
        // The recorder first, so that the writes of the start (keys, phone checks) count.
        let metrics_handle = http::metrics::handle();
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let address = listener.local_addr()?;
        let settings = settings(
            &config,
            config.public_url.clone().unwrap_or_else(|| format!("http://{address}")),
        );
        let bus = open_bus(&config).await?;
        let readiness = Arc::new(http::ready::Readiness::new(database.clone()));
        let roster = Arc::new(Roster::new(database.store(), bus, settings));
        let backups = config
            .backup
            .clone()
            .map(|schedule| (database.clone(), config.database_url.clone(), schedule));
        // Created on the first start and kept in the database: clients bind their push
        // subscriptions to this VAPID key.
        roster
            .load_push_keys()
            .await
            .context("cannot load or create the WebDAV-Push keys")?;
        if let Some(report) = roster
            .check_phones_after_upgrade()
            .await
            .context("cannot read the stored phone numbers again")?
        {
            log_phone_report(&report);
        }
        let state = AppState {
            roster: roster.clone(),
            metrics: metrics_handle,
            trusted_proxies: config.trusted_proxies.clone().into(),
            metrics_token: config.metrics_token.as_deref().map(Arc::from),
            frames: Arc::default(),
            readiness,
        };
        let metrics = match config.metrics_listen {
            Some(address) => {
                let listener = TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {address}"))?;
                Some((listener, http::metrics_router(state.clone())))
            }
            None => None,
        };
        let router = http::router(
            state,
            HttpSettings {
                max_body_bytes: config.max_body_bytes,
                body_timeout: config.body_timeout,
                metrics_here: metrics.is_none(),
            },
        );
        Ok(Application {
            listener,
            router,
            limits: config.listen_limits,
            metrics,
            roster,
            backups,
        })
    }

    /// The bound address (useful when the configured port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The bound address of the separate metrics listener, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The domain service of this server.
    pub fn roster(&self) -> Arc<Roster> {
        self.roster.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let dispatcher = Dispatcher::new(self.roster.clone()).context("cannot start WebDAV-Push")?;
        let roster = self.roster.clone();
        let upkeep = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                roster.housekeeping().await;
            }
        });
        let hub = tokio::spawn(self.roster.clone().run_hub());
        let pushes = tokio::spawn(dispatcher.run());
        tracing::info!(address = %self.local_addr(), "roster is listening");
        let backups = self
            .backups
            .map(|(database, url, schedule)| tokio::spawn(run_backups(database, url, schedule)));
        let streams = self.roster.clone();
        let shutdown = async move {
            shutdown.await;
            // Streams are upgraded connections that graceful shutdown does not wait for:
            // tell them, so that terminals reconnect instead of seeing a dead socket.
            streams.close_streams();
        };
        let metrics = self.metrics.map(|(listener, router)| {
            tokio::spawn(async move {
                let served = serve::serve(listener, router, ListenLimits::default(), std::future::pending()).await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        let served = serve::serve(self.listener, self.router, self.limits, shutdown).await;
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        upkeep.abort();
        if let Some(backups) = backups {
            backups.abort();
        }
        hub.abort();
        pushes.abort();
        served.context("the HTTP server failed")
    }
}

/// Takes the scheduled backups: looks every minute whether one is due (the database says
/// when the last was taken, by whichever instance), so a restart neither skips nor repeats one.
async fn run_backups(database: Database, url: String, schedule: backup::Schedule) {
    let mut every = tokio::time::interval(Duration::from_secs(60).min(schedule.every));
    loop {
        every.tick().await;
        match backup::scheduled(&database, &url, &schedule).await {
            Ok(Some(made)) => {
                tracing::info!(backup = %made.path.display(), bytes = made.bytes, "scheduled backup taken")
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = format!("{e:#}"), "the scheduled backup failed"),
        }
    }
}

/// `roster doctor`: reads every stored phone number again with today's rules, without
/// serving; with `apply`, corrects the cards (terminals learn of it at their next sync, or at
/// once when the server runs in this process).
pub async fn check_phones(config: &Config, apply: bool) -> anyhow::Result<PhoneReport> {
    let database = Database::open(&config.database_url, &config.database, Migrate::Yes).await?;
    let public_url = config.public_url.clone().unwrap_or_default();
    // Corrections reach other instances' terminals through the configured bus.
    let bus = open_bus(config).await?;
    let roster = Roster::new(database.store(), bus, settings(config, public_url));
    Ok(roster.check_phones(apply).await?)
}

/// The bus the configuration names.
/// `postgres` names the database's own LISTEN/NOTIFY.
pub async fn open_bus(config: &Config) -> anyhow::Result<Arc<dyn Bus>> {
    let spec = match config.bus.as_deref() {
        Some("postgres") if Backend::of(&config.database_url)? != Backend::Postgres => {
            anyhow::bail!("the `postgres` bus needs a PostgreSQL database; with SQLite use `local` or `nats://`")
        }
        Some("postgres") => Some(config.database_url.as_str()),
        other => other,
    };
    crate::bus::open(spec, &config.database_url).await
}

/// Tells the operator what reading the stored phone numbers with new rules found; numbers
/// are personal data, so the log names accounts, not numbers (`roster doctor` shows them).
fn log_phone_report(report: &PhoneReport) {
    tracing::info!(
        cards = report.cards,
        numbers = report.numbers,
        corrected = report.changed.len(),
        cards_corrected = report.cards_corrected,
        invalid = report.invalid.len(),
        rules = PHONE_RULES,
        "stored phone numbers read again with new phone rules"
    );
    for finding in &report.changed {
        tracing::warn!(account = %finding.account, "a stored phone number was read again and corrected");
    }
    for finding in &report.invalid {
        tracing::warn!(account = %finding.account, "a stored phone number is no longer valid; its owner should correct it");
    }
}

/// The domain settings a configuration implies.
pub fn settings(config: &Config, public_url: String) -> Settings {
    Settings {
        card_rules: CardRules {
            region: config.default_region,
            photo_max_bytes: config.photo_max_bytes,
        },
        max_group_size: config.max_group_size,
        invite_ttl_default: Duration::from_secs(7 * 24 * 3600),
        invite_ttl_max: Duration::from_secs(90 * 24 * 3600),
        lockout_after: config.lockout_after,
        lockout_for: config.lockout_for,
        push: PushSettings {
            allowed_origins: config.push_allowed_origins.clone(),
            coalesce: config.push_coalesce,
            ..PushSettings::new(config.push_contact.clone().unwrap_or_else(|| public_url.clone()))
        },
        public_url,
        rates: config.rates,
        passwords: config.passwords,
        basic_main_password: config.carddav_main_password,
        sync_page: config.carddav_sync_page,
        log_keep_versions: config.log_keep_versions,
        log_keep_for: config.log_keep_for,
        registration: config.registration,
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down; finishing in-flight requests");
}
