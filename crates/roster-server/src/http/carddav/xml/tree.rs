//! The reader every request parser starts from: quick-xml's namespace-resolving reader turned
//! into a small element tree.
//!
//! DTDs are refused outright and only the five predefined entities and character references
//! are understood, so no entity can expand; depth and element count are bounded. It knows
//! nothing of WebDAV: the parsers above it give the elements their meaning.

use super::{PropName, XmlError};
use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 200_000;

/// One parsed element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Element {
    pub(super) ns: String,
    pub(super) name: String,
    pub(super) attributes: Vec<(String, String)>,
    pub(super) children: Vec<Element>,
    pub(super) text: String,
}

impl Element {
    pub(super) fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub(super) fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub(super) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub(super) fn prop_name(&self) -> PropName {
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
pub(super) fn parse_tree(body: &str) -> Result<Element, XmlError> {
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
