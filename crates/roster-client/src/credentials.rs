//! Where the terminal keeps its state, and its credentials file.
//!
//! The credentials (server URL, terminal token) live in `config.toml` in the config folder
//! (`$ROSTER_CONFIG_DIR`, else the XDG config folder's `roster/`), readable by the owner only.
//! The address book lives elsewhere (see [`Paths::default_book`]).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Overrides the config folder (tests, several identities on one machine).
pub const CONFIG_DIR_VAR: &str = "ROSTER_CONFIG_DIR";

const FILE_NAME: &str = "config.toml";

/// The folders the terminal uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Holds `config.toml`.
    pub config_dir: PathBuf,
}

impl Paths {
    /// `$ROSTER_CONFIG_DIR`, else `<XDG config>/roster`.
    pub fn from_env() -> Result<Self> {
        let config_dir = match std::env::var_os(CONFIG_DIR_VAR).filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => dirs::config_dir()
                .ok_or_else(|| Error::Usage(format!("no config folder: set HOME or {CONFIG_DIR_VAR}")))?
                .join("roster"),
        };
        Ok(Paths { config_dir })
    }

    /// The credentials file.
    pub fn credentials_file(&self) -> PathBuf {
        self.config_dir.join(FILE_NAME)
    }

    /// The address book when neither `--to` nor a remembered folder says otherwise:
    /// `<XDG data>/roster/contacts`.
    pub fn default_book() -> Result<PathBuf> {
        dirs::data_dir()
            .map(|d| d.join("roster").join("contacts"))
            .ok_or_else(|| Error::Usage("no data folder: set HOME or pass --to DIR".into()))
    }
}

/// What a logged-in terminal remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The server's base URL.
    pub server: String,
    /// The account's login name.
    pub login: String,
    /// The account.
    pub account_id: Uuid,
    /// This terminal.
    pub terminal_id: Uuid,
    /// The terminal's bearer token: a secret.
    pub token: String,
    /// The address book folder last synced with `--to`, used by later commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book: Option<PathBuf>,
}

impl Credentials {
    /// Reads the credentials; `None` when not logged in.
    pub fn load(paths: &Paths) -> Result<Option<Self>> {
        let file = paths.credentials_file();
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", file.display()))(e)),
        };
        toml::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Usage(format!("{} is damaged ({e}): run `roster login` again", file.display())))
    }

    /// Writes the credentials, readable by the owner only, replacing the file atomically.
    pub fn save(&self, paths: &Paths) -> Result<()> {
        let dir = &paths.config_dir;
        create_private_dir(dir)?;
        let text = toml::to_string(self).map_err(|e| Error::Server(format!("cannot encode the credentials: {e}")))?;
        let file = paths.credentials_file();
        let temp = dir.join(format!(".{FILE_NAME}.tmp-{}", std::process::id()));
        let context = || format!("cannot write {}", file.display());
        write_private(&temp, text.as_bytes()).map_err(Error::io(context()))?;
        std::fs::rename(&temp, &file).map_err(Error::io(context()))
    }

    /// Forgets the credentials (logout). Not being logged in is not an error.
    pub fn remove(paths: &Paths) -> Result<()> {
        let file = paths.credentials_file();
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(format!("cannot remove {}", file.display()))(e))
            }
            _ => Ok(()),
        }
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(Error::io(format!("cannot create {}", dir.display())))
}

/// Creates `path` with mode 0600 from the start, so the token is never readable by others,
/// not even between create and chmod.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location
    use super::*;

    #[test]
    fn credentials_round_trip_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            config_dir: dir.path().join("roster"),
        };
        assert_eq!(Credentials::load(&paths).unwrap(), None);
        let credentials = Credentials {
            server: "http://127.0.0.1:1".into(),
            login: "anna".into(),
            account_id: Uuid::new_v4(),
            terminal_id: Uuid::new_v4(),
            token: "secret".into(),
            book: None,
        };
        credentials.save(&paths).unwrap();
        assert_eq!(Credentials::load(&paths).unwrap(), Some(credentials));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(paths.credentials_file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Credentials::remove(&paths).unwrap();
        Credentials::remove(&paths).unwrap();
        assert_eq!(Credentials::load(&paths).unwrap(), None);
    }
}
