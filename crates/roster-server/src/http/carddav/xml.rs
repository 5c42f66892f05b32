//! WebDAV/CardDAV XML with no I/O: parses PROPFIND, PROPPATCH and REPORT bodies into plain
//! values and writes multistatus and error documents.
//!
//! Parsing goes through quick-xml's namespace-resolving reader into a small element tree.
//! DTDs are refused outright and only the five predefined entities and character references
//! are understood, so no entity can expand; depth and element count are bounded.

use quick_xml::NsReader;
use quick_xml::escape::{escape, partial_escape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use std::fmt::Write as _;

mod push;
pub use push::{PUSH, PushRegister, Triggers, http_date, parse_http_date, parse_push_register};

/// The WebDAV namespace.
pub const DAV: &str = "DAV:";
/// The CardDAV namespace.
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// Apple's calendar-server namespace (`getctag`, `me-card`).
pub const CALSERVER: &str = "http://calendarserver.org/ns/";

const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 200_000;

/// Why a request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Not well-formed XML, or a construct that is not accepted (DTD, unknown entity).
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// Well-formed, but not the request this resource understands.
    #[error("unexpected request body: {0}")]
    Unexpected(String),
}

/// A property name: namespace and local name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PropName {
    /// Namespace URI ("" when unbound).
    pub ns: String,
    /// Local name.
    pub name: String,
}

impl PropName {
    /// A property in a namespace.
    pub fn new(ns: &str, name: &str) -> Self {
        PropName {
            ns: ns.to_string(),
            name: name.to_string(),
        }
    }

    /// Whether this is `name` in `ns`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }
}

/// One parsed element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Element {
    ns: String,
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn prop_name(&self) -> PropName {
        PropName::new(&self.ns, &self.name)
    }
}

fn resolved_ns(resolve: &ResolveResult<'_>) -> Result<String, XmlError> {
    match resolve {
        ResolveResult::Bound(ns) => Ok(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(XmlError::Malformed(format!(
            "undeclared namespace prefix {}",
            String::from_utf8_lossy(prefix)
        ))),
    }
}

fn start_element(resolve: &ResolveResult<'_>, start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| XmlError::Malformed(e.to_string()))?;
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| XmlError::Malformed(e.to_string()))?;
        attributes.push((
            String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(Element {
        ns: resolved_ns(resolve)?,
        name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        attributes,
        ..Element::default()
    })
}

fn entity(name: &[u8]) -> Option<char> {
    Some(match name {
        b"amp" => '&',
        b"lt" => '<',
        b"gt" => '>',
        b"quot" => '"',
        b"apos" => '\'',
        _ => return None,
    })
}

/// Parses a whole document into its root element.
fn parse_tree(body: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut count = 0usize;
    let malformed = |e: quick_xml::Error| XmlError::Malformed(e.to_string());
    loop {
        let (resolve, event) = reader.read_resolved_event().map_err(malformed)?;
        match event {
            Event::Start(start) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(XmlError::Malformed("too deeply nested or too many elements".into()));
                }
                stack.push(start_element(&resolve, &start)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::Malformed("too many elements".into()));
                }
                let element = start_element(&resolve, &start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return finish(&mut reader, element),
                }
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return finish(&mut reader, element),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .push_str(&text.decode().map_err(|e| XmlError::Malformed(e.to_string()))?);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .push_str(&data.decode().map_err(|e| XmlError::Malformed(e.to_string()))?);
                }
            }
            Event::GeneralRef(reference) => {
                let c = if reference.is_char_ref() {
                    reference.resolve_char_ref().ok().flatten()
                } else {
                    entity(&reference)
                };
                let c = c.ok_or_else(|| XmlError::Malformed("unknown entity reference".into()))?;
                if let Some(current) = stack.last_mut() {
                    current.text.push(c);
                }
            }
            Event::DocType(_) => return Err(XmlError::Malformed("DTDs are not accepted".into())),
            Event::Eof => return Err(XmlError::Malformed("the document ends early".into())),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
}

/// Checks that nothing but comments and whitespace follows the root element.
fn finish(reader: &mut NsReader<&[u8]>, root: Element) -> Result<Element, XmlError> {
    loop {
        match reader.read_event().map_err(|e| XmlError::Malformed(e.to_string()))? {
            Event::Eof => return Ok(root),
            Event::Comment(_) | Event::PI(_) => {}
            Event::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
            _ => return Err(XmlError::Malformed("content after the root element".into())),
        }
    }
}

/// Which properties a PROPFIND or REPORT asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropRequest {
    /// All properties (also what an empty PROPFIND body means).
    AllProp,
    /// The names of all properties, without values.
    PropName,
    /// These properties.
    Prop(Vec<PropName>),
}

/// The vCard version an `address-data` element asks for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AskedVersion {
    /// No version named: vCard 3.0 (RFC 6352 §10.4).
    #[default]
    Default,
    /// `version="3.0"`.
    V3,
    /// `version="4.0"`.
    V4,
}

/// What a `prop` element asks for, with the vCard version of `address-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Props {
    /// The properties.
    pub request: PropRequest,
    /// The vCard version asked for in `address-data`.
    pub version: AskedVersion,
}

fn props_of(parent: &Element) -> Props {
    if parent.child(DAV, "allprop").is_some() {
        return Props {
            request: PropRequest::AllProp,
            version: AskedVersion::Default,
        };
    }
    if parent.child(DAV, "propname").is_some() {
        return Props {
            request: PropRequest::PropName,
            version: AskedVersion::Default,
        };
    }
    let mut names = Vec::new();
    let mut version = AskedVersion::Default;
    if let Some(prop) = parent.child(DAV, "prop") {
        for child in &prop.children {
            if child.is(CARDDAV, "address-data") {
                // vdirsyncer spells the content-type attribute in its own way: match the
                // version alone.
                version = match child.attribute("version").map(str::trim) {
                    Some("4.0") => AskedVersion::V4,
                    Some("3.0") => AskedVersion::V3,
                    _ => AskedVersion::Default,
                };
            }
            if !names.contains(&child.prop_name()) {
                names.push(child.prop_name());
            }
        }
    }
    Props {
        request: PropRequest::Prop(names),
        version,
    }
}

/// Parses a PROPFIND body; an empty body means `allprop`.
pub fn parse_propfind(body: &str) -> Result<Props, XmlError> {
    if body.trim().is_empty() {
        return Ok(Props {
            request: PropRequest::AllProp,
            version: AskedVersion::Default,
        });
    }
    let root = parse_tree(body)?;
    if !root.is(DAV, "propfind") {
        return Err(XmlError::Unexpected("expected DAV:propfind".into()));
    }
    let props = props_of(&root);
    if props.request == PropRequest::Prop(Vec::new()) && root.child(DAV, "prop").is_none() {
        return Err(XmlError::Unexpected("propfind needs prop, allprop or propname".into()));
    }
    Ok(props)
}

/// Parses a PROPPATCH body into the names of the properties it sets or removes.
pub fn parse_proppatch(body: &str) -> Result<Vec<PropName>, XmlError> {
    let root = parse_tree(body)?;
    if !root.is(DAV, "propertyupdate") {
        return Err(XmlError::Unexpected("expected DAV:propertyupdate".into()));
    }
    let mut names = Vec::new();
    for action in root.children.iter().filter(|c| c.is(DAV, "set") || c.is(DAV, "remove")) {
        for prop in action.children.iter().filter(|c| c.is(DAV, "prop")) {
            names.extend(prop.children.iter().map(Element::prop_name));
        }
    }
    Ok(names)
}

/// How a text-match compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    /// Equal text.
    Equals,
    /// Contains the text (the default).
    Contains,
    /// Starts with the text.
    StartsWith,
    /// Ends with the text.
    EndsWith,
}

/// One `text-match` of an addressbook-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The text to look for.
    pub text: String,
    /// How to compare.
    pub match_type: MatchType,
    /// Whether the match is negated.
    pub negate: bool,
    /// `i;octet` (exact) instead of the default case-insensitive collation.
    pub octet: bool,
}

/// One `prop-filter` of an addressbook-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// The vCard property name, upper-case (`FN`, `EMAIL`, `TEL`...).
    pub name: String,
    /// Matches only cards without the property.
    pub is_not_defined: bool,
    /// All text matches must hold (else any).
    pub all_of: bool,
    /// The text matches.
    pub matches: Vec<TextMatch>,
}

/// The filter of an addressbook-query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// All prop-filters must hold (else any).
    pub all_of: bool,
    /// The prop-filters; none matches every card.
    pub props: Vec<PropFilter>,
}

/// A REPORT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// CARDDAV:addressbook-multiget.
    Multiget {
        /// Asked properties.
        props: Props,
        /// The cards' hrefs.
        hrefs: Vec<String>,
    },
    /// CARDDAV:addressbook-query.
    Query {
        /// Asked properties.
        props: Props,
        /// Which cards.
        filter: Filter,
        /// At most this many results.
        limit: Option<usize>,
    },
    /// DAV:sync-collection (RFC 6578).
    Sync {
        /// Asked properties.
        props: Props,
        /// The token of the previous sync ("" for the first).
        token: String,
        /// At most this many results (advisory).
        limit: Option<usize>,
    },
}

fn all_of(element: &Element) -> bool {
    element
        .attribute("test")
        .is_some_and(|t| t.eq_ignore_ascii_case("allof"))
}

fn limit_of(element: &Element) -> Result<Option<usize>, XmlError> {
    element
        .child(CARDDAV, "limit")
        .or_else(|| element.child(DAV, "limit"))
        .and_then(|l| l.child(CARDDAV, "nresults").or_else(|| l.child(DAV, "nresults")))
        .map(|n| {
            n.text
                .trim()
                .parse::<usize>()
                .map_err(|_| XmlError::Unexpected("nresults is not a number".into()))
        })
        .transpose()
}

fn text_match(element: &Element) -> Result<TextMatch, XmlError> {
    let match_type = match element.attribute("match-type").unwrap_or("contains") {
        "equals" => MatchType::Equals,
        "contains" => MatchType::Contains,
        "starts-with" => MatchType::StartsWith,
        "ends-with" => MatchType::EndsWith,
        other => return Err(XmlError::Unexpected(format!("unsupported match-type {other}"))),
    };
    let octet = match element.attribute("collation").unwrap_or("i;unicode-casemap") {
        "i;octet" => true,
        "i;unicode-casemap" | "i;ascii-casemap" => false,
        other => return Err(XmlError::Unexpected(format!("unsupported collation {other}"))),
    };
    Ok(TextMatch {
        text: element.text.clone(),
        match_type,
        negate: element.attribute("negate-condition") == Some("yes"),
        octet,
    })
}

fn filter_of(element: Option<&Element>) -> Result<Filter, XmlError> {
    let Some(element) = element else {
        return Ok(Filter {
            all_of: false,
            props: Vec::new(),
        });
    };
    let mut props = Vec::new();
    for prop in element.children.iter().filter(|c| c.is(CARDDAV, "prop-filter")) {
        let name = prop
            .attribute("name")
            .ok_or_else(|| XmlError::Unexpected("prop-filter without name".into()))?;
        props.push(PropFilter {
            name: name.to_ascii_uppercase(),
            is_not_defined: prop.child(CARDDAV, "is-not-defined").is_some(),
            all_of: all_of(prop),
            matches: prop
                .children
                .iter()
                .filter(|c| c.is(CARDDAV, "text-match"))
                .map(text_match)
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(Filter {
        all_of: all_of(element),
        props,
    })
}

/// Parses a REPORT body.
pub fn parse_report(body: &str) -> Result<Report, XmlError> {
    let root = parse_tree(body)?;
    if root.is(CARDDAV, "addressbook-multiget") {
        let hrefs = root
            .children
            .iter()
            .filter(|c| c.is(DAV, "href"))
            .map(|h| h.text.trim().to_string())
            .collect();
        Ok(Report::Multiget {
            props: props_of(&root),
            hrefs,
        })
    } else if root.is(CARDDAV, "addressbook-query") {
        Ok(Report::Query {
            props: props_of(&root),
            filter: filter_of(root.child(CARDDAV, "filter"))?,
            limit: limit_of(&root)?,
        })
    } else if root.is(DAV, "sync-collection") {
        let token = root
            .child(DAV, "sync-token")
            .map(|t| t.text.trim().to_string())
            .unwrap_or_default();
        Ok(Report::Sync {
            props: props_of(&root),
            token,
            limit: limit_of(&root)?,
        })
    } else {
        Err(XmlError::Unexpected(format!(
            "unsupported report {}:{}",
            root.ns, root.name
        )))
    }
}

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

    fn golden(name: &str) -> String {
        let path = format!("{}/tests/carddav/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn propfind_prop_with_foreign_namespaces() {
        let props = parse_propfind(&golden("propfind-prop.xml")).unwrap();
        assert_eq!(
            props.request,
            PropRequest::Prop(vec![
                PropName::new(DAV, "resourcetype"),
                PropName::new(DAV, "getetag"),
                PropName::new(CALSERVER, "getctag"),
                PropName::new(DAV, "sync-token"),
                PropName::new("http://example.com/ns", "color"),
            ])
        );
    }

    #[test]
    fn propfind_forms() {
        assert_eq!(parse_propfind("").unwrap().request, PropRequest::AllProp);
        let allprop = r#"<propfind xmlns="DAV:"><allprop/></propfind>"#;
        assert_eq!(parse_propfind(allprop).unwrap().request, PropRequest::AllProp);
        let propname = r#"<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>"#;
        assert_eq!(parse_propfind(propname).unwrap().request, PropRequest::PropName);
        assert!(matches!(
            parse_propfind(r#"<propfind xmlns="DAV:"/>"#),
            Err(XmlError::Unexpected(_))
        ));
        assert!(matches!(
            parse_propfind(r#"<x:propfind xmlns:x="urn:other"><x:prop/></x:propfind>"#),
            Err(XmlError::Unexpected(_))
        ));
    }

    #[test]
    fn refuses_dtds_entities_and_garbage() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><propfind xmlns="DAV:">&a;</propfind>"#;
        assert!(matches!(parse_propfind(bomb), Err(XmlError::Malformed(_))));
        let unknown = r#"<propfind xmlns="DAV:"><prop><getetag/></prop>&a;</propfind>"#;
        assert!(matches!(parse_propfind(unknown), Err(XmlError::Malformed(_))));
        for bad in [
            "<propfind xmlns=\"DAV:\"><prop>",
            "not xml",
            "<a:propfind/>",
            "<propfind xmlns=\"DAV:\"></wrong>",
            "<propfind xmlns=\"DAV:\"><allprop/></propfind><second/>",
        ] {
            assert!(parse_propfind(bad).is_err(), "{bad}");
        }
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert!(matches!(parse_report(&deep), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn every_request_parser_refuses_a_dtd() {
        // Each body is accepted as it is and refused once a DTD declaring an entity precedes it,
        // even where nothing uses the entity.
        let with_dtd = |body: &str| {
            let body = body
                .strip_prefix("<?xml")
                .and_then(|b| b.split_once("?>"))
                .map_or(body, |(_, rest)| rest);
            format!(r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]>{body}"#)
        };
        let refused = |result: Result<(), XmlError>| matches!(result, Err(XmlError::Malformed(_)));
        let propfind = golden("propfind-prop.xml");
        assert!(parse_propfind(&propfind).is_ok());
        assert!(refused(parse_propfind(&with_dtd(&propfind)).map(drop)));
        for name in ["multiget.xml", "query.xml", "sync-collection.xml"] {
            let report = golden(name);
            assert!(parse_report(&report).is_ok(), "{name}");
            assert!(refused(parse_report(&with_dtd(&report)).map(drop)), "{name}");
        }
        let proppatch =
            r#"<propertyupdate xmlns="DAV:"><set><prop><displayname>x</displayname></prop></set></propertyupdate>"#;
        assert!(parse_proppatch(proppatch).is_ok());
        assert!(refused(parse_proppatch(&with_dtd(proppatch)).map(drop)));
        let register = r#"<push-register xmlns="https://bitfire.at/webdav-push"><subscription>
            <web-push-subscription><push-resource>https://push.example.net/x</push-resource>
            <subscription-public-key>BTBZMqHH6r4Tts7J_aSIgg</subscription-public-key>
            <auth-secret>BTBZMqHH6r4Tts7J_aSIgg</auth-secret></web-push-subscription>
            </subscription></push-register>"#;
        assert!(parse_push_register(register).is_ok());
        assert!(refused(parse_push_register(&with_dtd(register)).map(drop)));
    }

    #[test]
    fn multiget_with_version_and_escaped_hrefs() {
        let report = parse_report(&golden("multiget.xml")).unwrap();
        let Report::Multiget { props, hrefs } = report else {
            panic!("not a multiget: {report:?}");
        };
        assert_eq!(props.version, AskedVersion::V4);
        assert_eq!(
            props.request,
            PropRequest::Prop(vec![
                PropName::new(DAV, "getetag"),
                PropName::new(CARDDAV, "address-data")
            ])
        );
        assert_eq!(hrefs, vec!["/dav/addressbooks/anna/contacts/a.vcf", "/dav/x&y.vcf"]);
    }

    #[test]
    fn query_filter_and_limit() {
        let report = parse_report(&golden("query.xml")).unwrap();
        let Report::Query { filter, limit, props } = report else {
            panic!("not a query: {report:?}");
        };
        assert_eq!(props.version, AskedVersion::Default);
        assert_eq!(limit, Some(5));
        assert!(!filter.all_of);
        assert_eq!(filter.props.len(), 2);
        assert_eq!(filter.props[0].name, "FN");
        assert_eq!(
            filter.props[0].matches,
            vec![TextMatch {
                text: "anna".into(),
                match_type: MatchType::StartsWith,
                negate: false,
                octet: false,
            }]
        );
        assert_eq!(filter.props[1].name, "TEL");
        assert_eq!(filter.props[1].matches[0].match_type, MatchType::Contains);
    }

    #[test]
    fn sync_collection_with_and_without_token() {
        let report = parse_report(&golden("sync-collection.xml")).unwrap();
        let Report::Sync { token, props, limit } = report else {
            panic!("not a sync: {report:?}");
        };
        assert_eq!(token, "urn:x-roster:sync:AAAA");
        assert_eq!(limit, None);
        assert_eq!(props.request, PropRequest::Prop(vec![PropName::new(DAV, "getetag")]));
        let empty = r#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>"#;
        assert!(matches!(parse_report(empty), Ok(Report::Sync { token, .. }) if token.is_empty()));
    }

    #[test]
    fn sync_collection_with_a_limit() {
        let body = r#"<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:limit><D:nresults>25</D:nresults></D:limit><D:prop><D:getetag/></D:prop></D:sync-collection>"#;
        assert!(matches!(parse_report(body), Ok(Report::Sync { limit: Some(25), .. })));
        let bad = body.replace("25", "many");
        assert!(matches!(parse_report(&bad), Err(XmlError::Unexpected(_))));
    }

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
    fn proppatch_names() {
        let body = r#"<D:propertyupdate xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:set><D:prop><CS:me-card><D:href>/x</D:href></CS:me-card></D:prop></D:set></D:propertyupdate>"#;
        assert_eq!(
            parse_proppatch(body).unwrap(),
            vec![PropName::new(CALSERVER, "me-card")]
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
