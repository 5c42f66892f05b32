//! The vdir folder: one sub-folder per group, one `<account-uuid>.vcf` per contact (vCard 4.0),
//! and a `displayname` file per group (the vdirsyncer convention for a collection's name).
//!
//! Every write goes to a hidden temporary file in the same folder that is then renamed over the
//! target, so a reader (or a crash) sees the old file or the new one, never half of one. This
//! module only handles files; which files Roster owns is the cache's business.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// Temporary files start with this; anything else in a folder may be the user's.
const TEMP_PREFIX: &str = ".roster-tmp-";

/// The folder of one group.
pub(crate) fn group_dir(root: &Path, group: Uuid) -> PathBuf {
    root.join(group.to_string())
}

/// The file of one contact in a group folder.
pub(crate) fn contact_file(root: &Path, group: Uuid, account: Uuid) -> PathBuf {
    group_dir(root, group).join(format!("{account}.vcf"))
}

/// Creates the group's folder and (re)writes its `displayname` when it differs.
pub(crate) fn prepare_group(root: &Path, group: Uuid, name: &str) -> Result<()> {
    let dir = group_dir(root, group);
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    let file = dir.join("displayname");
    if std::fs::read_to_string(&file).ok().as_deref() != Some(name) {
        write_atomically(&file, name.as_bytes())?;
    }
    remove_stale_temporaries(&dir);
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let context = || format!("cannot write {}", path.display());
    let dir = path
        .parent()
        .ok_or_else(|| Error::Usage(format!("{} has no folder", path.display())))?;
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let temp = dir.join(format!("{TEMP_PREFIX}{}-{name}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        // The data must be on disk before the rename makes it the file's content.
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.map_err(Error::io(context()))
}

/// Deletes a file; one already gone is fine (a crash may have deleted it before the cache knew).
pub(crate) fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(format!("cannot delete {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

/// Removes a group's folder once Roster's files are gone: its `displayname` and the folder
/// itself, which stays when the user keeps files of their own in it.
pub(crate) fn retire_group(root: &Path, group: Uuid) -> Result<()> {
    let dir = group_dir(root, group);
    remove_stale_temporaries(&dir);
    remove(&dir.join("displayname"))?;
    // Not empty means the user keeps files there: leave it.
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

/// Makes renames done so far durable, before a cursor that depends on them is stored.
pub(crate) fn sync_dir(dir: &Path) {
    // Not every platform can fsync a folder; the files themselves were synced already.
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Temporary files left by a crash; they are Roster's by their name.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is a failed test, with its location
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let group = Uuid::new_v4();
        prepare_group(dir.path(), group, "Class 3b").unwrap();
        let file = contact_file(dir.path(), group, Uuid::new_v4());
        write_atomically(&file, b"one").unwrap();
        write_atomically(&file, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "two");
        let names: Vec<String> = std::fs::read_dir(group_dir(dir.path(), group))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"displayname".to_string()));
    }

    #[test]
    fn retiring_a_group_keeps_the_users_files() {
        let dir = tempfile::tempdir().unwrap();
        let group = Uuid::new_v4();
        prepare_group(dir.path(), group, "Club").unwrap();
        let mine = group_dir(dir.path(), group).join("mine.vcf");
        std::fs::write(&mine, "BEGIN:VCARD\r\nEND:VCARD\r\n").unwrap();
        std::fs::write(group_dir(dir.path(), group).join(".roster-tmp-1-x.vcf"), "half").unwrap();
        retire_group(dir.path(), group).unwrap();
        assert!(mine.exists());
        assert_eq!(std::fs::read_dir(group_dir(dir.path(), group)).unwrap().count(), 1);

        let empty = Uuid::new_v4();
        prepare_group(dir.path(), empty, "Gone").unwrap();
        retire_group(dir.path(), empty).unwrap();
        assert!(!group_dir(dir.path(), empty).exists());
    }
}
