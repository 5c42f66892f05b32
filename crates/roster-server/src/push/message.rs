//! The body of a WebDAV-Push message: the book's topic and its sync token after the change,
//! in the `push-message` XML of the WebDAV-Push draft. Here, beside the door that sends it, so
//! that the push door needs nothing of the CardDAV door.

use quick_xml::escape::partial_escape;

/// The WebDAV-Push XML namespace (also used by the CardDAV door's properties).
pub const PUSH: &str = "https://bitfire.at/webdav-push";

/// The body of a push: the book's topic and its sync token after the change.
pub fn push_message(topic: &str, sync_token: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<P:push-message xmlns:D=\"DAV:\" xmlns:P=\"{PUSH}\">\
         <P:topic>{}</P:topic><P:content-update><D:sync-token>{}</D:sync-token></P:content-update>\
         </P:push-message>\n",
        partial_escape(topic),
        partial_escape(sync_token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_messages_carry_topic_and_token_escaped() {
        let message = push_message("abc", "urn:x-roster:sync:A&B");
        assert!(message.contains("<P:topic>abc</P:topic>"));
        assert!(message.contains("<D:sync-token>urn:x-roster:sync:A&amp;B</D:sync-token>"));
        assert!(message.contains("xmlns:P=\"https://bitfire.at/webdav-push\""));
    }
}
