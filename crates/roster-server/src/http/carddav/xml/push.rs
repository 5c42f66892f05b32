//! WebDAV-Push XML (namespace `https://bitfire.at/webdav-push`): the `push-register` body a
//! client posts to a book, the `push-message` a push carries, and the HTTP dates they use.

use super::XmlError;
use super::tree::{Element, parse_tree};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

pub use crate::push::message::PUSH;

/// `IMF-fixdate` (RFC 9110 §5.6.7), always in GMT.
const IMF_FIXDATE: &[FormatItem<'static>] =
    format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");

/// A parsed `push-register` request with a Web Push subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRegister {
    /// Where pushes go.
    pub push_resource: String,
    /// The subscription's P-256 key (`subscription-public-key`, formerly `client-public-key`).
    pub public_key: Vec<u8>,
    /// The subscription's authentication secret.
    pub auth_secret: Vec<u8>,
    /// The asked triggers; `None` when the request names none (DAVx5 sends none).
    pub trigger: Option<Triggers>,
    /// The asked expiry.
    pub expires: Option<OffsetDateTime>,
}

/// The triggers a registration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triggers {
    /// Changes of the book's members.
    pub content_update: bool,
    /// Changes of the book's properties.
    pub property_update: bool,
}

fn push_child<'e>(element: &'e Element, name: &str) -> Result<&'e Element, XmlError> {
    element
        .child(PUSH, name)
        .ok_or_else(|| XmlError::Unexpected(format!("{} needs a {name} element", element.name)))
}

fn base64url(element: &Element) -> Result<Vec<u8>, XmlError> {
    URL_SAFE_NO_PAD
        .decode(element.text.trim().trim_end_matches('='))
        .map_err(|_| XmlError::Unexpected(format!("{} is not base64url", element.name)))
}

/// Parses a `push-register` body.
pub fn parse_push_register(body: &str) -> Result<PushRegister, XmlError> {
    let root = parse_tree(body)?;
    if !root.is(PUSH, "push-register") {
        return Err(XmlError::Unexpected("expected a push-register element".into()));
    }
    let subscription = push_child(&root, "subscription")?;
    let web_push = subscription
        .child(PUSH, "web-push-subscription")
        .ok_or_else(|| XmlError::Unexpected("only web-push-subscription is supported".into()))?;
    let push_resource = push_child(web_push, "push-resource")?.text.trim().to_string();
    if let Some(encoding) = web_push.child(PUSH, "content-encoding")
        && encoding.text.trim() != "aes128gcm"
    {
        return Err(XmlError::Unexpected(
            "only the aes128gcm content encoding is supported".into(),
        ));
    }
    let key = web_push
        .child(PUSH, "subscription-public-key")
        .or_else(|| web_push.child(PUSH, "client-public-key"))
        .ok_or_else(|| XmlError::Unexpected("web-push-subscription needs a subscription-public-key".into()))?;
    if key.attribute("type").is_some_and(|t| t != "p256dh") {
        return Err(XmlError::Unexpected(
            "the subscription key must be of type p256dh".into(),
        ));
    }
    let trigger = root.child(PUSH, "trigger").map(|t| Triggers {
        content_update: t.child(PUSH, "content-update").is_some(),
        property_update: t.child(PUSH, "property-update").is_some(),
    });
    let expires = root
        .child(PUSH, "expires")
        .map(|e| {
            parse_http_date(e.text.trim()).ok_or_else(|| XmlError::Unexpected("expires is not an HTTP date".into()))
        })
        .transpose()?;
    Ok(PushRegister {
        push_resource,
        public_key: base64url(key)?,
        auth_secret: base64url(push_child(web_push, "auth-secret")?)?,
        trigger,
        expires,
    })
}

/// Formats a time as an HTTP date (`Expires`).
pub fn http_date(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(IMF_FIXDATE).unwrap_or_default()
}

/// Parses an HTTP date in the IMF-fixdate form.
pub fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(text, IMF_FIXDATE)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<push-register xmlns="https://bitfire.at/webdav-push" xmlns:D="DAV:">
  <subscription>
    <web-push-subscription>
      <push-resource>https://up.example.net/yohd4yai5Phiz1wi</push-resource>
      <content-encoding>aes128gcm</content-encoding>
      <subscription-public-key type="p256dh">BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4</subscription-public-key>
      <auth-secret>BTBZMqHH6r4Tts7J_aSIgg</auth-secret>
    </web-push-subscription>
  </subscription>
  <trigger><content-update><D:sync-level>1</D:sync-level></content-update></trigger>
  <expires>Wed, 20 Dec 2023 10:03:31 GMT</expires>
</push-register>"#;

    #[test]
    fn push_register_with_every_part() {
        let register = parse_push_register(REGISTER).unwrap();
        assert_eq!(register.push_resource, "https://up.example.net/yohd4yai5Phiz1wi");
        assert_eq!(register.public_key.len(), 65);
        assert_eq!(register.auth_secret.len(), 16);
        assert_eq!(
            register.trigger,
            Some(Triggers {
                content_update: true,
                property_update: false
            })
        );
        let expires = register.expires.unwrap();
        assert_eq!(expires.unix_timestamp(), 1_703_066_611);
        assert_eq!(http_date(expires), "Wed, 20 Dec 2023 10:03:31 GMT");
    }

    #[test]
    fn push_register_without_trigger_or_expiry_and_with_the_old_key_name() {
        let body = REGISTER
            .replace("subscription-public-key", "client-public-key")
            .replace(
                "<trigger><content-update><D:sync-level>1</D:sync-level></content-update></trigger>",
                "",
            )
            .replace("<expires>Wed, 20 Dec 2023 10:03:31 GMT</expires>", "");
        let register = parse_push_register(&body).unwrap();
        assert_eq!(register.trigger, None);
        assert_eq!(register.expires, None);
        assert_eq!(register.public_key.len(), 65);
    }

    #[test]
    fn bad_push_registers_say_why() {
        for (from, to, why) in [
            ("aes128gcm", "aesgcm", "aes128gcm"),
            ("type=\"p256dh\"", "type=\"x25519\"", "p256dh"),
            ("BTBZMqHH6r4Tts7J_aSIgg", "!!", "base64url"),
            ("Wed, 20 Dec 2023 10:03:31 GMT", "tomorrow", "HTTP date"),
            ("<auth-secret>BTBZMqHH6r4Tts7J_aSIgg</auth-secret>", "", "auth-secret"),
            ("web-push-subscription>", "other-subscription>", "web-push-subscription"),
        ] {
            let body = REGISTER.replace(from, to);
            let error = parse_push_register(&body).unwrap_err();
            assert!(error.to_string().contains(why), "{from}: {error}");
        }
        assert!(matches!(
            parse_push_register(r#"<propfind xmlns="DAV:"/>"#),
            Err(XmlError::Unexpected(_))
        ));
    }
}
