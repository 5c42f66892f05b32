//! The story of the issue: two people, one group, cards that arrive, change and leave.

use crate::support::{Server, User, vcf_files};

#[test]
fn sync_writes_updates_and_removes_the_other_members_cards_and_keeps_user_files() {
    let server = Server::start();
    let (anna, anna_id) = User::register(&server, "anna");
    let (ben, ben_id) = User::register(&server, "ben");
    anna.ok(&[
        "card",
        "set",
        "--name",
        "Anna Schmidt",
        "--phone",
        "030 1234567",
        "--email",
        "anna@example.org",
    ]);
    ben.ok(&["card", "set", "--name", "Ben Meier", "--phone", "+49 170 1111111"]);

    let group = anna.json(&["group", "create", "Class 3b", "--description", "parents"]);
    let group_id = group["id"].as_str().unwrap().to_string();
    let invite = anna.json(&["group", "invite", "class 3b"]);
    let link = invite["url"].as_str().unwrap();
    assert!(link.contains("/join/"), "{link}");
    assert!(ben.ok(&["group", "join", link]).contains("Joined Class 3b"));

    // Ben's first sync writes Anna's card, with her number in E.164, into the group's folder.
    let summary = ben.ok(&["sync"]);
    assert!(summary.starts_with("+1 ~0 -0 in 1 group"), "{summary}");
    let folder = ben.book().join(&group_id);
    assert_eq!(vcf_files(&folder), vec![format!("{anna_id}.vcf")]);
    let anna_file = folder.join(format!("{anna_id}.vcf"));
    let vcard = std::fs::read_to_string(&anna_file).unwrap();
    assert!(
        vcard.contains("VERSION:4.0") && vcard.contains(&format!("UID:{anna_id}")),
        "{vcard}"
    );
    assert!(
        vcard.contains("FN:Anna Schmidt") && vcard.contains("+49301234567"),
        "{vcard}"
    );
    assert_eq!(std::fs::read_to_string(folder.join("displayname")).unwrap(), "Class 3b");
    // Anna sees Ben, never herself.
    assert!(anna.ok(&["sync"]).starts_with("+1 ~0 -0"));
    assert_eq!(vcf_files(&anna.book().join(&group_id)), vec![format!("{ben_id}.vcf")]);

    // Files Ben keeps in the folder are his.
    let own = folder.join("my-dentist.vcf");
    std::fs::write(&own, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Dentist\r\nEND:VCARD\r\n").unwrap();
    std::fs::write(folder.join("notes.txt"), "mine").unwrap();

    // A new number reaches the file at the next sync; a sync with nothing new changes nothing.
    anna.ok(&["card", "set", "--phone", "+49 30 7654321"]);
    assert!(ben.ok(&["sync"]).starts_with("+0 ~1 -0"));
    let vcard = std::fs::read_to_string(&anna_file).unwrap();
    assert!(
        vcard.contains("+49307654321") && !vcard.contains("+49301234567"),
        "{vcard}"
    );
    assert!(ben.ok(&["sync"]).starts_with("+0 ~0 -0"));

    // Offline: the local book lists and searches, and exports one multi-contact file.
    let contacts = ben.ok(&["contacts"]);
    assert!(
        contacts.contains("Anna Schmidt") && contacts.contains("+49307654321"),
        "{contacts}"
    );
    assert!(ben.ok(&["contacts", "search", "030 765"]).contains("Anna Schmidt"));
    assert!(ben.ok(&["contacts", "search", "nobody"]).is_empty());
    let export = ben.home().join("all.vcf");
    ben.ok(&["export", "--vcf", export.to_str().unwrap(), "--group", "Class 3b"]);
    let exported = std::fs::read_to_string(&export).unwrap();
    assert_eq!(exported.matches("BEGIN:VCARD").count(), 1, "{exported}");
    assert!(exported.contains("CATEGORIES:Class 3b"), "{exported}");

    // Ben leaves: Anna's card leaves his book, his own files stay; Anna loses Ben's card.
    ben.ok(&["group", "leave", "Class 3b"]);
    assert!(ben.ok(&["sync"]).starts_with("+0 ~0 -1 in 0 groups"));
    assert!(!anna_file.exists());
    assert!(own.exists() && folder.join("notes.txt").exists());
    assert!(anna.ok(&["sync"]).starts_with("+0 ~0 -1 in 1 group"));
    assert!(vcf_files(&anna.book().join(&group_id)).is_empty());
    assert!(
        anna.book().join(&group_id).is_dir(),
        "the group folder stays while Anna is a member"
    );
}

#[test]
fn sync_into_another_folder_remembers_it_and_approval_groups_wait_for_an_admin() {
    let server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    let (carl, carl_id) = User::register(&server, "carl");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 30 1111111"]);
    carl.ok(&["card", "set", "--name", "Carl", "--phone", "+49 30 2222222"]);
    anna.ok(&["group", "create", "Club", "--policy", "approval"]);
    let link = anna.json(&["group", "invite", "Club", "--max-uses", "5"])["url"]
        .as_str()
        .unwrap()
        .to_string();
    let joined = carl.json(&["group", "join", &link]);
    assert_eq!(joined["state"], "pending");
    let requests = anna.json(&["group", "requests", "Club"]);
    assert_eq!(requests[0]["account_id"], carl_id.as_str());
    anna.ok(&["group", "approve", "Club", "carl"]);

    let elsewhere = carl.home().join("book");
    let out = carl.ok(&["sync", "--to", elsewhere.to_str().unwrap()]);
    assert!(out.starts_with("+1 ~0 -0 in 1 group"), "{out}");
    assert!(
        carl.ok(&["contacts"]).contains("Anna"),
        "contacts reads the folder synced last"
    );
    assert!(!carl.book().exists());

    // Anna shares only her name with the club: her number leaves Carl's file.
    anna.ok(&["group", "share", "Club", "--fields", "name"]);
    carl.ok(&["sync"]);
    let json = carl.json(&["contacts"]);
    assert_eq!(json[0]["card"]["formatted_name"], "Anna");
    assert!(json[0]["card"].get("phones").is_none(), "{json}");

    // Removal by an admin removes both ways.
    anna.ok(&["group", "remove", "Club", &carl_id]);
    assert!(carl.ok(&["sync"]).starts_with("+0 ~0 -1 in 0 groups"));
    assert!(carl.json(&["contacts"]).as_array().unwrap().is_empty());
}

#[test]
fn a_cursor_older_than_the_kept_log_resyncs_the_whole_group() {
    let server = Server::keeping(0);
    let (anna, anna_id) = User::register(&server, "anna");
    let (ben, _) = User::register(&server, "ben");
    let (carl, carl_id) = User::register(&server, "carl");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 30 1111111"]);
    carl.ok(&["card", "set", "--name", "Carl", "--phone", "+49 30 3333333"]);
    let (group_id, link) = anna.create_group("Club", &[]);
    ben.ok(&["group", "join", &link]);
    carl.ok(&["group", "join", &link]);
    assert!(ben.ok(&["sync"]).starts_with("+2 ~0 -0"));

    // While Ben is away Carl leaves and Anna changes her number; then the log is compacted
    // past Ben's cursor, so the server can only answer "resync".
    carl.ok(&["group", "leave", "Club"]);
    anna.ok(&["card", "set", "--phone", "+49 30 2222222"]);
    assert!(server.compact() > 0);
    let folder = ben.book().join(&group_id);
    std::fs::write(
        folder.join("mine.vcf"),
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Mine\r\nEND:VCARD\r\n",
    )
    .unwrap();

    let out = ben.ok(&["sync"]);
    assert!(out.starts_with("+0 ~1 -1 in 1 group"), "{out}");
    let anna_file = folder.join(format!("{anna_id}.vcf"));
    assert!(std::fs::read_to_string(anna_file).unwrap().contains("+49302222222"));
    assert!(!folder.join(format!("{carl_id}.vcf")).exists());
    assert!(folder.join("mine.vcf").exists());
    assert!(
        ben.ok(&["sync"]).starts_with("+0 ~0 -0"),
        "the cursor after a resync is current"
    );
}

/// Puts a book back into the state a crash leaves: the cache's cursors as `cursor`.
fn rewind_cursors(book: &std::path::Path, cursor: i64) {
    let url = format!("sqlite://{}", book.join(".roster-cache.sqlite").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE groups SET cursor = ?")
            .bind(cursor)
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    });
}

#[test]
fn a_sync_interrupted_before_its_cursor_was_stored_completes_on_the_rerun() {
    let server = Server::start();
    let (anna, anna_id) = User::register(&server, "anna");
    let (ben, _) = User::register(&server, "ben");
    anna.ok(&["card", "set", "--name", "Anna", "--phone", "+49 30 1111111"]);
    let (group_id, link) = anna.create_group("Club", &[]);
    ben.ok(&["group", "join", &link]);
    assert!(ben.ok(&["sync"]).starts_with("+1 ~0 -0"));
    let folder = ben.book().join(&group_id);
    let file = folder.join(format!("{anna_id}.vcf"));

    // Crash after the files were written, before the cursor: the rerun finds them current.
    rewind_cursors(&ben.book(), 0);
    assert!(ben.ok(&["sync"]).starts_with("+0 ~0 -0"));
    assert!(std::fs::read_to_string(&file).unwrap().contains("+49301111111"));

    // Crash while Anna's new card was being written: the temporary file is there, the rename
    // did not happen, cache and cursor are as before. The rerun writes the file and clears the
    // temporary one.
    anna.ok(&["card", "set", "--phone", "+49 30 2222222"]);
    rewind_cursors(&ben.book(), 0);
    let temp = folder.join(format!(".roster-tmp-1-{anna_id}.vcf"));
    std::fs::write(&temp, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:half").unwrap();
    assert!(ben.ok(&["sync"]).starts_with("+0 ~1 -0"));
    assert!(std::fs::read_to_string(&file).unwrap().contains("+49302222222"));
    assert!(!temp.exists());
    assert!(ben.ok(&["sync"]).starts_with("+0 ~0 -0"));
}
