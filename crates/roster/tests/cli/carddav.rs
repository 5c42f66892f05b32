//! `roster carddav`: an app password made on the command line opens a device's address books
//! over CardDAV, and each device's choice of books is kept.

use crate::support::{Server, User};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::io::{Read, Write};
use std::net::TcpStream;

/// A PROPFIND Depth 1 of the home set, as a CardDAV client sends it; answers (status, body).
fn propfind_home(server: &Server, login: &str, password: &str, user_agent: &str) -> (u16, String) {
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    let credentials = STANDARD.encode(format!("{login}:{password}"));
    write!(
        stream,
        "PROPFIND /dav/addressbooks/{login}/ HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credentials}\r\n\
         User-Agent: {user_agent}\r\nDepth: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}

/// How many books a home-set answer lists.
fn books(answer: &str) -> usize {
    answer.matches("<C:addressbook/>").count()
}

#[test]
fn an_app_password_opens_one_devices_address_books() {
    let server = Server::start();
    let (anna, _) = User::register(&server, "anna");
    let (ben, _) = User::register(&server, "ben");
    anna.ok(&["card", "set", "--name", "Anna Schmidt", "--phone", "+49 30 1111111"]);
    ben.ok(&["card", "set", "--name", "Ben Meier", "--phone", "+49 30 2222222"]);
    let (_, link) = anna.create_group("Choir", &[]);
    ben.ok(&["group", "join", &link]);

    // A device that lists the group books: contacts, me and the choir.
    let pixel = anna.json(&["carddav", "add", "Pixel", "--group-books", "on"]);
    assert_eq!(pixel["login"], "anna");
    assert_eq!(pixel["server"], format!("{}/dav/", server.url));
    let pixel_password = pixel["password"].as_str().unwrap();
    let pixel_id = pixel["terminal"]["id"].as_str().unwrap();
    let (status, answer) = propfind_home(&server, "anna", pixel_password, "DAVx5/4.4.3-ose");
    assert_eq!(status, 207, "{answer}");
    assert_eq!(books(&answer), 3, "{answer}");

    // Text output tells a person what to type into the phone.
    let text = anna.ok(&["carddav", "add", "iPad"]);
    assert!(text.contains("User name: anna"), "{text}");
    let ipad_password = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Password:"))
        .unwrap()
        .trim()
        .to_string();
    let (status, answer) = propfind_home(&server, "anna", &ipad_password, "iOS/18.2 (22C152) dataaccessd/1.0");
    assert_eq!((status, books(&answer)), (207, 2), "{answer}");

    // The list shows each device with the client that first used it.
    let devices = anna.json(&["carddav", "list"]);
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 2, "{devices:?}");
    let pixel_row = devices.iter().find(|d| d["id"] == pixel_id).unwrap();
    assert_eq!(pixel_row["client"], "DAVx5/4.4.3-ose");
    assert_eq!(pixel_row["group_books"], true);

    // Choices: per device, then for the account (the Apple device keeps the merged book).
    anna.ok(&["carddav", "group-books", "default", "--device", pixel_id]);
    let (_, answer) = propfind_home(&server, "anna", pixel_password, "DAVx5/4.4.3-ose");
    assert_eq!(books(&answer), 2, "{answer}");
    anna.ok(&["carddav", "group-books", "on"]);
    let (_, answer) = propfind_home(&server, "anna", pixel_password, "DAVx5/4.4.3-ose");
    assert_eq!(books(&answer), 3, "{answer}");
    let (_, answer) = propfind_home(&server, "anna", &ipad_password, "iOS/18.2 (22C152) dataaccessd/1.0");
    assert_eq!(books(&answer), 2, "{answer}");
    assert!(
        anna.fails(&["carddav", "group-books", "default"], 2)
            .contains("--device")
    );

    // Revoking the device closes its address books.
    anna.ok(&["terminals", "revoke", pixel_id]);
    let (status, _) = propfind_home(&server, "anna", pixel_password, "DAVx5/4.4.3-ose");
    assert_eq!(status, 401);
}
