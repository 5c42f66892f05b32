//! The vdir that `sync` writes, read back by an independent address book: khard (Python,
//! its own vCard parser). CI installs it (see .ci/run) and passes its path in ROSTER_KHARD.

use crate::support::{Server, User};
use std::path::PathBuf;
use std::process::Command;

/// khard: `$ROSTER_KHARD`, else `khard` on PATH. Without it the test is skipped on a laptop,
/// and fails in CI, where skipping would hide a broken install step.
fn khard() -> Option<PathBuf> {
    let candidate = std::env::var_os("ROSTER_KHARD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("khard"));
    let found = Command::new(&candidate)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "khard is missing (ROSTER_KHARD={candidate:?}): CI must install it (see .ci/run)"
    );
    eprintln!("SKIPPED interop::khard_reads_the_synced_address_book: khard not installed (pip install khard)");
    None
}

#[test]
fn khard_reads_the_synced_address_book() {
    let Some(khard) = khard() else { return };
    let server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    let (ben, ben_id) = User::register(&server, "ben");
    let (carl, carl_id) = User::register(&server, "carl");
    anna.ok(&["card", "set", "--name", "Anna Schmidt", "--phone", "+49 30 1234567"]);
    ben.ok(&["card", "set", "--name", "Ben Meier", "--phone", "work:+49 170 1111111"]);
    carl.ok(&[
        "card",
        "set",
        "--name",
        "Carl Ölmüller, Jr.",
        "--phone",
        "+49 89 5555555",
        "--email",
        "carl@example.org",
    ]);
    let group = anna.json(&["group", "create", "Chor; Süd"]);
    let group_id = group["id"].as_str().unwrap().to_string();
    let link = anna.json(&["group", "invite", "Chor; Süd"])["url"]
        .as_str()
        .unwrap()
        .to_string();
    ben.ok(&["group", "join", &link]);
    carl.ok(&["group", "join", &link]);
    anna.ok(&["group", "share", "Chor; Süd", "--fields", "name,phones,emails"]);
    carl.ok(&["group", "share", "Chor; Süd", "--fields", "name,phones,emails"]);
    assert!(anna.ok(&["sync"]).starts_with("+2 ~0 -0"));

    let folder = anna.book().join(&group_id);
    let config = anna.home().join("khard.conf");
    std::fs::write(
        &config,
        format!("[addressbooks]\n[[chor]]\npath = {}\n", folder.display()),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(&khard).arg("-c").arg(&config).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "khard {args:?}: {stderr}");
        String::from_utf8(output.stdout).unwrap()
    };

    // Every contact, by UID and name, as roster itself lists them.
    let mut listed: Vec<String> = run(&["list", "--parsable"]).lines().map(str::to_string).collect();
    listed.sort();
    let mut expected = vec![
        format!("{ben_id}\tBen Meier\tchor"),
        format!("{carl_id}\tCarl Ölmüller, Jr.\tchor"),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    let ours = anna.json(&["contacts"]);
    assert_eq!(ours.as_array().unwrap().len(), listed.len());

    // Phones in E.164 with their types, and the e-mail address.
    let phones = run(&["phone", "--parsable"]);
    assert!(phones.contains("+491701111111\tBen Meier\tWORK"), "{phones}");
    assert!(phones.contains("+49895555555\tCarl Ölmüller, Jr.\tCELL"), "{phones}");
    let emails = run(&["email", "--parsable", "carl"]);
    assert!(emails.contains("carl@example.org\tCarl Ölmüller, Jr."), "{emails}");
}
