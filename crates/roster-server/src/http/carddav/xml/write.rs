//! The documents written back: multistatus answers (whole, or piece by piece for streamed
//! ones) and `DAV:error` bodies, with the `D:`, `C:` and `CS:` prefixes clients expect.

use super::{CALSERVER, CARDDAV, DAV, PropName};
use quick_xml::escape::{escape, partial_escape};
use std::fmt::Write as _;

/// A property value to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// An empty element (also used for `propname` answers).
    Empty,
    /// Escaped text content.
    Text(String),
    /// One `DAV:href`.
    Href(String),
    /// Child elements, already written with this module's prefixes (`D:`, `C:`, `CS:`).
    Xml(String),
}

/// One property with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prop {
    /// Its name.
    pub name: PropName,
    /// Its value.
    pub value: Value,
}

/// The properties of one resource with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropStat {
    /// HTTP status code.
    pub status: u16,
    /// Properties.
    pub props: Vec<Prop>,
}

/// One `DAV:response` of a multistatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Properties of a resource, grouped by status (written 200 first).
    Props {
        /// The resource.
        href: String,
        /// Property groups.
        propstats: Vec<PropStat>,
    },
    /// A bare status for a resource (e.g. 404 for a deleted member in sync-collection).
    Status {
        /// The resource.
        href: String,
        /// HTTP status code.
        status: u16,
    },
    /// 507 on the request URI of a sync-collection answer cut short: more follows with its
    /// token (RFC 6578 §3.6).
    Truncated {
        /// The request URI.
        href: String,
    },
}

/// The status line text clients compare literally.
fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        424 => "Failed Dependency",
        507 => "Insufficient Storage",
        _ => axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown"),
    };
    format!("HTTP/1.1 {status} {reason}")
}

fn open_tag(out: &mut String, name: &PropName) -> &'static str {
    let prefix = match name.ns.as_str() {
        DAV => "D:",
        CARDDAV => "C:",
        CALSERVER => "CS:",
        _ => "",
    };
    out.push('<');
    out.push_str(prefix);
    out.push_str(&name.name);
    if prefix.is_empty() {
        let _ = write!(out, " xmlns=\"{}\"", escape(name.ns.as_str()));
    }
    prefix
}

fn write_prop(out: &mut String, prop: &Prop) {
    let prefix = open_tag(out, &prop.name);
    let content = match &prop.value {
        Value::Empty => {
            out.push_str("/>");
            return;
        }
        Value::Text(text) => partial_escape(text.as_str()).into_owned(),
        Value::Href(href) => format!("<D:href>{}</D:href>", partial_escape(href.as_str())),
        Value::Xml(xml) => xml.clone(),
    };
    let _ = write!(out, ">{content}</{prefix}{}>", prop.name.name);
}

const ROOT_NAMESPACES: &str =
    r#"xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/""#;

/// Writes a multistatus document; `sync_token` is added for sync-collection answers.
pub fn multistatus(responses: &[Response], sync_token: Option<&str>) -> String {
    let mut out = String::with_capacity(256 + responses.len() * 256);
    open_multistatus(&mut out);
    for response in responses {
        write_response(&mut out, response);
    }
    close_multistatus(&mut out, sync_token);
    out
}

/// Writes what precedes the first response of a multistatus document.
pub fn open_multistatus(out: &mut String) {
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus {ROOT_NAMESPACES}>"
    );
}

/// Writes what follows the last response: the sync token, if any, and the end tag.
pub fn close_multistatus(out: &mut String, sync_token: Option<&str>) {
    if let Some(token) = sync_token {
        let _ = write!(out, "<D:sync-token>{}</D:sync-token>", partial_escape(token));
    }
    out.push_str("</D:multistatus>\n");
}

/// Writes one response (used to stream long multistatus answers piece by piece).
pub fn write_response(out: &mut String, response: &Response) {
    match response {
        Response::Status { href, status } => {
            let _ = write!(
                out,
                "<D:response><D:href>{}</D:href><D:status>{}</D:status></D:response>",
                partial_escape(href.as_str()),
                status_line(*status)
            );
        }
        Response::Truncated { href } => {
            let _ = write!(
                out,
                "<D:response><D:href>{}</D:href><D:status>{}</D:status>\
                 <D:error><D:number-of-matches-within-limits/></D:error></D:response>",
                partial_escape(href.as_str()),
                status_line(507)
            );
        }
        Response::Props { href, propstats } => {
            let _ = write!(out, "<D:response><D:href>{}</D:href>", partial_escape(href.as_str()));
            // Thunderbird reads only the first status: the 200 group goes first.
            let mut ordered: Vec<&PropStat> = propstats.iter().filter(|p| !p.props.is_empty()).collect();
            ordered.sort_by_key(|p| p.status != 200);
            for propstat in ordered {
                out.push_str("<D:propstat><D:prop>");
                for prop in &propstat.props {
                    write_prop(out, prop);
                }
                let _ = write!(
                    out,
                    "</D:prop><D:status>{}</D:status></D:propstat>",
                    status_line(propstat.status)
                );
            }
            out.push_str("</D:response>");
        }
    }
}

/// Writes a `DAV:error` body naming one precondition; `inner` is its content (prefixed XML).
pub fn error(ns: &str, condition: &str, inner: &str) -> String {
    let name = PropName::new(ns, condition);
    let mut out = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:error {ROOT_NAMESPACES}>");
    write_prop(
        &mut out,
        &Prop {
            name,
            value: if inner.is_empty() {
                Value::Empty
            } else {
                Value::Xml(inner.to_string())
            },
        },
    );
    out.push_str("</D:error>\n");
    out
}

/// Writes a `DAV:error` body naming one precondition, with a human-readable reason.
pub fn error_described(ns: &str, condition: &str, description: &str) -> String {
    error(ns, condition, "").replace(
        "</D:error>",
        &format!(
            "<D:responsedescription>{}</D:responsedescription></D:error>",
            partial_escape(description)
        ),
    )
}

/// Escapes text for element content (quotes stay as they are: ETags carry them).
pub fn escape_text(text: &str) -> String {
    partial_escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::carddav::xml::golden;

    #[test]
    fn a_truncated_answer_says_so_on_the_request_uri() {
        let responses = [Response::Truncated {
            href: "/dav/addressbooks/anna/contacts/".into(),
        }];
        assert_eq!(
            multistatus(&responses, Some("urn:x")),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:multistatus xmlns:D=\"DAV:\" \
             xmlns:C=\"urn:ietf:params:xml:ns:carddav\" xmlns:CS=\"http://calendarserver.org/ns/\">\
             <D:response><D:href>/dav/addressbooks/anna/contacts/</D:href>\
             <D:status>HTTP/1.1 507 Insufficient Storage</D:status>\
             <D:error><D:number-of-matches-within-limits/></D:error></D:response>\
             <D:sync-token>urn:x</D:sync-token></D:multistatus>\n"
        );
    }

    #[test]
    fn multistatus_matches_the_golden_file() {
        let responses = vec![
            Response::Props {
                href: "/dav/addressbooks/anna/contacts/".into(),
                propstats: vec![
                    PropStat {
                        status: 404,
                        props: vec![Prop {
                            name: PropName::new("http://example.com/ns", "color"),
                            value: Value::Empty,
                        }],
                    },
                    PropStat {
                        status: 200,
                        props: vec![
                            Prop {
                                name: PropName::new(DAV, "resourcetype"),
                                value: Value::Xml("<D:collection/><C:addressbook/>".into()),
                            },
                            Prop {
                                name: PropName::new(DAV, "displayname"),
                                value: Value::Text("Choir & <Friends>".into()),
                            },
                            Prop {
                                name: PropName::new(DAV, "current-user-principal"),
                                value: Value::Href("/dav/principals/anna/".into()),
                            },
                        ],
                    },
                ],
            },
            Response::Status {
                href: "/dav/addressbooks/anna/contacts/gone.vcf".into(),
                status: 404,
            },
        ];
        assert_eq!(
            multistatus(&responses, Some("urn:x-roster:sync:AAAA")),
            golden("multistatus.xml")
        );
    }

    #[test]
    fn error_document() {
        assert_eq!(error(DAV, "valid-sync-token", ""), golden("error-valid-sync-token.xml"));
    }
}
