//! Interop with an independent CardDAV client: the real `vdirsyncer` (PyPI) syncs Anna's
//! `contacts`, a group book and `me` into local folders.
//!
//! `.ci/run` installs vdirsyncer into a virtualenv and puts it on PATH (or names it in
//! `ROSTER_VDIRSYNCER`). Without it the test fails when `CI=true` and is skipped, saying so,
//! elsewhere.

use super::{Dav, setup};
use reqwest::StatusCode;
use std::path::{Path, PathBuf};
use std::process::Command;

fn find_vdirsyncer() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ROSTER_VDIRSYNCER") {
        return Some(PathBuf::from(path));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("vdirsyncer"))
        .find(|candidate| candidate.is_file())
}

/// Runs vdirsyncer with a config file; panics with its output when it fails.
async fn vdirsyncer(binary: &Path, config: &Path, args: &[&str]) -> String {
    let (binary, config) = (binary.to_path_buf(), config.to_path_buf());
    let shown = args.join(" ");
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    // The server runs on this test's runtime: run the client on a blocking thread.
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()))
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "vdirsyncer {shown} failed:\n{text}");
    text
}

/// The vCards of a local folder, one string each.
fn local_cards(dir: &Path) -> Vec<String> {
    let mut cards: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    cards.sort();
    cards
}

fn card_of<'a>(cards: &'a [String], uid: &uuid::Uuid) -> Option<&'a String> {
    cards.iter().find(|c| c.contains(&format!("UID:{uid}")))
}

fn storage_pair(name: &str, local: &Path, url: &str, login: &str, password: &str, read_only: bool) -> String {
    format!(
        r#"
[pair {name}]
a = "{name}_local"
b = "{name}_remote"
collections = null
conflict_resolution = "b wins"

[storage {name}_local]
type = "filesystem"
path = "{local}"
fileext = ".vcf"

[storage {name}_remote]
type = "carddav"
url = "{url}"
username = "{login}"
password = "{password}"
read_only = {read_only}
"#,
        local = local.display(),
    )
}

#[tokio::test]
async fn vdirsyncer_syncs_contacts_a_group_book_and_my_card() {
    let Some(binary) = find_vdirsyncer() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "vdirsyncer is required in CI: .ci/run installs it (or set ROSTER_VDIRSYNCER)"
        );
        eprintln!("SKIPPED vdirsyncer interop: vdirsyncer is not installed (run .ci/run, or set ROSTER_VDIRSYNCER)");
        return;
    };
    let s = setup().await;
    let dav = Dav::for_user(&s.anna).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = |name: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    };
    let (contacts, choir, me) = (folder("contacts"), folder("choir"), folder("me"));
    let url = |book: &str| format!("{}{}", s.server.base, dav.book(book));
    let mut config = format!("[general]\nstatus_path = \"{}\"\n", folder("status").display());
    config += &storage_pair("contacts", &contacts, &url("contacts"), "anna", &dav.password, true);
    config += &storage_pair("choir", &choir, &url(&s.choir.to_string()), "anna", &dav.password, true);
    config += &storage_pair("me", &me, &url("me"), "anna", &dav.password, false);
    let config_path = dir.path().join("config");
    std::fs::write(&config_path, config).unwrap();

    vdirsyncer(&binary, &config_path, &["discover"]).await;
    vdirsyncer(&binary, &config_path, &["sync"]).await;

    // Every member's card arrived with the right phone; Ben once, with both groups.
    let cards = local_cards(&contacts);
    assert_eq!(cards.len(), 2, "{cards:#?}");
    let ben = card_of(&cards, &s.ben.id).unwrap();
    assert!(ben.contains("+49302222222"), "{ben}");
    assert!(ben.contains("CATEGORIES:Choir,Club"), "{ben}");
    assert!(card_of(&cards, &s.cara.id).unwrap().contains("+4915133333333"));
    let in_choir = local_cards(&choir);
    assert_eq!(in_choir.len(), 2, "{in_choir:#?}");
    assert!(card_of(&in_choir, &s.ben.id).unwrap().contains("+49302222222"));
    assert!(!card_of(&in_choir, &s.ben.id).unwrap().contains("ben@example.org"));

    // A phone change and a member leaving.
    s.ben.set_card("Ben Meyer", "030 6666666").await;
    assert_eq!(
        s.cara.delete(&format!("/api/v1/groups/{}/membership", s.choir)).await.0,
        StatusCode::NO_CONTENT
    );
    vdirsyncer(&binary, &config_path, &["sync"]).await;
    let cards = local_cards(&contacts);
    assert_eq!(cards.len(), 1, "cara left: {cards:#?}");
    assert!(card_of(&cards, &s.ben.id).unwrap().contains("+49306666666"));
    let in_choir = local_cards(&choir);
    assert_eq!(in_choir.len(), 1, "{in_choir:#?}");
    assert!(card_of(&in_choir, &s.ben.id).unwrap().contains("+49306666666"));

    // Leaving one of two shared groups keeps the contact; leaving both removes it.
    assert_eq!(
        s.ben.delete(&format!("/api/v1/groups/{}/membership", s.club)).await.0,
        StatusCode::NO_CONTENT
    );
    vdirsyncer(&binary, &config_path, &["sync"]).await;
    let cards = local_cards(&contacts);
    let ben = card_of(&cards, &s.ben.id).unwrap();
    assert!(
        ben.contains("CATEGORIES:Choir\r\n") || ben.contains("CATEGORIES:Choir\n"),
        "{ben}"
    );
    assert!(
        !ben.contains("ben@example.org"),
        "the club's fields went with the club: {ben}"
    );
    assert_eq!(
        s.ben.delete(&format!("/api/v1/groups/{}/membership", s.choir)).await.0,
        StatusCode::NO_CONTENT
    );
    // vdirsyncer refuses to empty a folder unless told that this is meant.
    vdirsyncer(&binary, &config_path, &["sync", "--force-delete"]).await;
    assert_eq!(local_cards(&contacts).len(), 0);
    assert_eq!(local_cards(&choir).len(), 0);

    // My card, edited as a vCard file and uploaded through `me`, reaches the JSON directory
    // of a fellow member.
    let mine: Vec<PathBuf> = std::fs::read_dir(&me).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let edited = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{}\r\nFN:Anna from vdirsyncer\r\nN:Schmidt;Anna;;;\r\n\
TEL;TYPE=CELL:+49 30 8888888\r\nEND:VCARD\r\n",
        s.anna.id
    );
    std::fs::write(&mine[0], edited).unwrap();
    s.cara.accept(&s.anna.invite(s.choir).await).await;
    vdirsyncer(&binary, &config_path, &["sync"]).await;
    let directory = s.cara.directory(s.choir).await;
    let anna = &directory[&s.anna.id.to_string()];
    assert_eq!(anna["formatted_name"], "Anna from vdirsyncer", "{anna}");
    assert_eq!(anna["phones"][0]["number"], "+49308888888", "{anna}");
}
