//! Device setup: what a CardDAV client needs to reach this server, in the forms the clients
//! take — an Apple configuration profile, the link DAVx5 opens, and a QR code of a link.
//!
//! Pure: it turns values into text and images. It reads no request, touches no storage and
//! creates no credential (the pages ask the domain for the app password and pass it in).

use crate::http::carddav::principal_path;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use qrcode::{EcLevel, QrCode};
use std::fmt::Write as _;
use url::Url;
use uuid::Uuid;

/// Why setup data cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The server's public URL names no usable host and port.
    #[error("the public URL `{0}` names no host and port a CardDAV client can use")]
    PublicUrl(String),
    /// The text does not fit in a QR code.
    #[error("the text does not fit in a QR code: {0}")]
    Qr(#[from] qrcode::types::QrError),
    /// The QR image could not be encoded as PNG.
    #[error("the QR image cannot be encoded: {0}")]
    Image(#[from] image::ImageError),
}

/// The kind of device a setup page is opened on, as its `User-Agent` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// iPhone, iPad or Mac: the configuration profile comes first.
    Apple,
    /// Android: DAVx5 comes first.
    Android,
    /// Anything else: the server address, user and password come first.
    Desktop,
}

impl Platform {
    /// The platform a `User-Agent` names. iPads ask for desktop pages and call themselves
    /// `Macintosh`, which leads to the same profile; Android is checked first because some
    /// Android browsers mention `like iPhone`-style tokens.
    pub fn detect(user_agent: &str) -> Platform {
        if user_agent.contains("Android") {
            Platform::Android
        } else if ["iPhone", "iPad", "iPod", "Macintosh", "Mac OS X"]
            .iter()
            .any(|token| user_agent.contains(token))
        {
            Platform::Apple
        } else {
            Platform::Desktop
        }
    }
}

/// Where and as whom a CardDAV client connects: the server part comes from the public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavAccount {
    /// Whether the server is reached over TLS (`https` public URL).
    pub tls: bool,
    /// Host name (or address) of the server.
    pub host: String,
    /// TCP port, explicit or the scheme's default.
    pub port: u16,
    /// The account's login, the CardDAV user name.
    pub login: String,
    /// The app password the device uses.
    pub password: String,
}

impl DavAccount {
    /// The account `login` with `password` on the server whose public URL is `public_url`.
    pub fn new(public_url: &str, login: &str, password: &str) -> Result<Self, SetupError> {
        let bad = || SetupError::PublicUrl(public_url.to_string());
        let url = Url::parse(public_url).map_err(|_| bad())?;
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(bad()),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?.to_string();
        let port = url.port_or_known_default().ok_or_else(bad)?;
        Ok(DavAccount {
            tls,
            host,
            port,
            login: login.to_string(),
            password: password.to_string(),
        })
    }

    /// `host` or `host:port`, the port left out when it is the scheme's default.
    fn authority(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The principal's full URL: what desktop clients (Thunderbird and others) are given.
    pub fn principal_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), principal_path(&self.login))
    }

    /// The server's name as a person reads it, for account descriptions.
    pub fn server_name(&self) -> &str {
        &self.host
    }
}

/// An Apple configuration profile (`.mobileconfig`, an XML property list) with one
/// `com.apple.carddav.account` payload for `account`. `id` identifies the profile (installing
/// a profile with the same id replaces it); `description` is shown on the install screen.
pub fn mobileconfig(account: &DavAccount, id: Uuid, description: &str) -> String {
    let title = format!("Roster — {}", account.server_name());
    let identifier = format!("{}.roster.{id}", reverse_dns(&account.host));
    // The payload's own UUID only has to differ from the profile's; deriving it keeps the
    // whole profile a function of its inputs.
    let payload_id = Uuid::from_u128(id.as_u128() ^ 0x5A5A_5A5A);
    let mut xml = String::with_capacity(2048);
    xml.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" ",
        "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
        "<plist version=\"1.0\">\n<dict>\n",
        "  <key>PayloadContent</key>\n  <array>\n    <dict>\n",
    ));
    let inner = [
        ("CardDAVAccountDescription", Entry::Text(&title)),
        ("CardDAVHostName", Entry::Text(&account.host)),
        ("CardDAVPort", Entry::Integer(account.port)),
        ("CardDAVPrincipalURL", Entry::Text(&account.principal_url())),
        ("CardDAVUseSSL", Entry::Bool(account.tls)),
        ("CardDAVUsername", Entry::Text(&account.login)),
        ("CardDAVPassword", Entry::Text(&account.password)),
        ("PayloadDisplayName", Entry::Text(&title)),
        ("PayloadIdentifier", Entry::Text(&format!("{identifier}.carddav"))),
        ("PayloadType", Entry::Text("com.apple.carddav.account")),
        ("PayloadUUID", Entry::Text(&payload_id.to_string().to_uppercase())),
        ("PayloadVersion", Entry::Integer(1)),
    ];
    for (key, value) in inner {
        write_entry(&mut xml, "      ", key, value);
    }
    xml.push_str("    </dict>\n  </array>\n");
    let outer = [
        ("PayloadDescription", Entry::Text(description)),
        ("PayloadDisplayName", Entry::Text(&title)),
        ("PayloadIdentifier", Entry::Text(&identifier)),
        ("PayloadRemovalDisallowed", Entry::Bool(false)),
        ("PayloadType", Entry::Text("Configuration")),
        ("PayloadUUID", Entry::Text(&id.to_string().to_uppercase())),
        ("PayloadVersion", Entry::Integer(1)),
    ];
    for (key, value) in outer {
        write_entry(&mut xml, "  ", key, value);
    }
    xml.push_str("</dict>\n</plist>\n");
    xml
}

/// The link DAVx5 opens to set up an account: `carddavs://` (`carddav://` without TLS) with
/// the user name and password as percent-encoded user info and the principal as path.
///
/// DAVx5's login screen registers these schemes, turns `carddavs` into `https` (`carddav` into
/// `http`) and pre-fills the user name and password from the user info, split at the first
/// `:` — which neither logins nor app passwords contain. Some DAVx5 versions keep only the
/// host of the link and drop a non-default port; the page therefore also shows the address,
/// user name and password to type in.
pub fn davx5_link(account: &DavAccount) -> String {
    let scheme = if account.tls { "carddavs" } else { "carddav" };
    let plain = format!("{scheme}://{}{}", account.authority(), principal_path(&account.login));
    // `Url` percent-encodes the user info; on the (impossible) failure the link without
    // credentials still leads DAVx5 to the right server.
    match Url::parse(&plain) {
        Ok(mut url) => {
            if url.set_username(&account.login).is_err() || url.set_password(Some(&account.password)).is_err() {
                return plain;
            }
            url.to_string()
        }
        Err(_) => plain,
    }
}

/// The `roster login` command for this server and login, with a terminal name when one is
/// given. The name is single-quoted for a POSIX shell: it is typed by the reader, and the line
/// is meant to be pasted into a terminal.
pub fn login_command(public_url: &str, login: &str, name: Option<&str>) -> String {
    let server = public_url.trim_end_matches('/');
    let mut line = format!("roster login --server {server} {login}");
    if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
        line.push_str(&format!(" --terminal-name '{}'", name.replace('\'', r"'\''")));
    }
    line
}

/// A QR code of `text` as a PNG `data:` URI, for an `<img src>` (the pages' CSP allows
/// `data:` images; no request for the image is made, so the secret in it stays in the page).
pub fn qr_png_data_uri(text: &str) -> Result<String, SetupError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let image = code
        .render::<image::Luma<u8>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(image).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(format!("data:image/png;base64,{}", STANDARD.encode(&png)))
}

/// A value in a property list.
#[derive(Debug, Clone, Copy)]
enum Entry<'a> {
    Text(&'a str),
    Integer(u16),
    Bool(bool),
}

fn write_entry(xml: &mut String, indent: &str, key: &str, value: Entry<'_>) {
    let _ = writeln!(xml, "{indent}<key>{}</key>", escape(key));
    let _ = match value {
        Entry::Text(text) => writeln!(xml, "{indent}<string>{}</string>", escape(text)),
        Entry::Integer(n) => writeln!(xml, "{indent}<integer>{n}</integer>"),
        Entry::Bool(true) => writeln!(xml, "{indent}<true/>"),
        Entry::Bool(false) => writeln!(xml, "{indent}<false/>"),
    };
}

/// XML character data: markup characters escaped, characters XML 1.0 forbids dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `roster.example.org` → `org.example.roster`, limited to the characters identifiers use.
fn reverse_dns(host: &str) -> String {
    let clean: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean
        .split('.')
        .filter(|l| !l.is_empty())
        .rev()
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use plist::Value;

    fn account(public_url: &str) -> DavAccount {
        DavAccount::new(public_url, "anna", "rst_a&b<c>\"d'").unwrap()
    }

    fn payload(profile: &str) -> plist::Dictionary {
        let root = Value::from_reader_xml(profile.as_bytes()).expect("a well-formed plist");
        let root = root.into_dictionary().expect("a dictionary");
        assert_eq!(
            root.get("PayloadType").and_then(Value::as_string),
            Some("Configuration")
        );
        assert_eq!(root.get("PayloadVersion").and_then(Value::as_signed_integer), Some(1));
        let content = root.get("PayloadContent").and_then(Value::as_array).expect("payloads");
        assert_eq!(content.len(), 1);
        content[0].as_dictionary().expect("a payload").clone()
    }

    #[test]
    fn the_profile_parses_and_carries_the_account() {
        let id = Uuid::new_v4();
        let profile = mobileconfig(&account("https://roster.example.org"), id, "Adds <your> groups & more");
        let p = payload(&profile);
        let text = |k: &str| p.get(k).and_then(Value::as_string).map(str::to_string);
        assert_eq!(text("PayloadType").as_deref(), Some("com.apple.carddav.account"));
        assert_eq!(text("CardDAVHostName").as_deref(), Some("roster.example.org"));
        assert_eq!(p.get("CardDAVPort").and_then(Value::as_signed_integer), Some(443));
        assert_eq!(p.get("CardDAVUseSSL").and_then(Value::as_boolean), Some(true));
        assert_eq!(text("CardDAVUsername").as_deref(), Some("anna"));
        assert_eq!(text("CardDAVPassword").as_deref(), Some("rst_a&b<c>\"d'"));
        assert_eq!(
            text("CardDAVPrincipalURL").as_deref(),
            Some("https://roster.example.org/dav/principals/anna/")
        );
        assert_eq!(
            text("CardDAVAccountDescription").as_deref(),
            Some("Roster — roster.example.org")
        );
        assert!(
            text("PayloadIdentifier")
                .unwrap()
                .starts_with("org.example.roster.roster.")
        );
        assert_ne!(text("PayloadUUID").unwrap(), id.to_string().to_uppercase());
        let root = Value::from_reader_xml(profile.as_bytes())
            .unwrap()
            .into_dictionary()
            .unwrap();
        assert_eq!(
            root.get("PayloadDescription").and_then(Value::as_string),
            Some("Adds <your> groups & more")
        );
        assert_eq!(
            root.get("PayloadUUID").and_then(Value::as_string),
            Some(id.to_string().to_uppercase().as_str())
        );
    }

    #[test]
    fn plain_http_and_explicit_ports_reach_the_profile() {
        let p = payload(&mobileconfig(&account("http://127.0.0.1:8080/"), Uuid::nil(), ""));
        assert_eq!(p.get("CardDAVPort").and_then(Value::as_signed_integer), Some(8080));
        assert_eq!(p.get("CardDAVUseSSL").and_then(Value::as_boolean), Some(false));
        assert_eq!(
            p.get("CardDAVPrincipalURL").and_then(Value::as_string),
            Some("http://127.0.0.1:8080/dav/principals/anna/")
        );
    }

    #[test]
    fn unusable_public_urls_are_refused() {
        for url in ["", "roster.example.org", "ftp://roster.example.org", "https://"] {
            assert!(DavAccount::new(url, "anna", "pw").is_err(), "{url:?} was accepted");
        }
    }

    #[test]
    fn the_davx5_link_carries_encoded_credentials() {
        let link = davx5_link(&account("https://roster.example.org"));
        assert_eq!(
            link,
            "carddavs://anna:rst_a&b%3Cc%3E%22d'@roster.example.org/dav/principals/anna/"
        );
        let parsed = Url::parse(&link).unwrap();
        assert_eq!(parsed.username(), "anna");
        assert_eq!(parsed.host_str(), Some("roster.example.org"));
        let plain = davx5_link(&DavAccount::new("http://10.0.0.2:8080", "bob", "rst_x-y_z").unwrap());
        assert_eq!(plain, "carddav://bob:rst_x-y_z@10.0.0.2:8080/dav/principals/bob/");
    }

    #[test]
    fn the_qr_code_decodes_to_the_text() {
        let text = davx5_link(&account("https://roster.example.org"));
        let uri = qr_png_data_uri(&text).unwrap();
        let png = STANDARD
            .decode(uri.strip_prefix("data:image/png;base64,").expect("a PNG data URI"))
            .unwrap();
        let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
            .unwrap()
            .to_luma8();
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(image.width() as usize, image.height() as usize, |x, y| {
                image.get_pixel(x as u32, y as u32).0[0]
            });
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, text);
    }

    #[test]
    fn platforms_are_told_apart_by_user_agent() {
        let cases = [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15",
                Platform::Apple,
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15",
                Platform::Apple,
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile",
                Platform::Android,
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                Platform::Desktop,
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0",
                Platform::Desktop,
            ),
            ("", Platform::Desktop),
        ];
        for (agent, platform) in cases {
            assert_eq!(Platform::detect(agent), platform, "{agent}");
        }
    }

    #[test]
    fn the_login_command_quotes_the_name_for_the_shell() {
        assert_eq!(
            login_command("https://roster.example.org/", "anna", None),
            "roster login --server https://roster.example.org anna"
        );
        assert_eq!(
            login_command("https://r.example", "anna", Some(" Anna's $(rm -rf ~) ")),
            r"roster login --server https://r.example anna --terminal-name 'Anna'\''s $(rm -rf ~)'"
        );
        assert_eq!(
            login_command("https://r.example", "anna", Some("  ")),
            login_command("https://r.example", "anna", None)
        );
    }

    #[test]
    fn xml_text_is_escaped_and_cleaned() {
        assert_eq!(escape("a<b>&\"'\u{1}c"), "a&lt;b&gt;&amp;&quot;&apos;c");
        assert_eq!(reverse_dns("roster.example.org"), "org.example.roster");
    }
}
