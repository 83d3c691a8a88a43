//! A small XML tree for S3's answers, and the escaping used to write requests.
//!
//! S3 bodies are small and flat, so parsing them into a tree first and reading fields from it
//! keeps every parser short. Names are local (namespace prefixes dropped); text is unescaped.
//! Malformed input is an [`XmlError`], never a panic.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deeper nesting than any S3 document has; refusing it bounds recursion and memory.
const MAX_DEPTH: usize = 32;

/// An XML body that is not what S3 sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML (or not UTF-8, or nested too deep).
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The root element is not the expected one.
    #[error("expected a <{expected}> document, found <{found}>")]
    UnexpectedRoot {
        /// The element wanted.
        expected: &'static str,
        /// The element found.
        found: String,
    },
    /// A required element is missing.
    #[error("<{parent}> has no <{name}>")]
    Missing {
        /// The enclosing element.
        parent: String,
        /// The missing child.
        name: &'static str,
    },
    /// An element's text is not a valid value.
    #[error("<{name}> holds {value:?}, which is not {expected}")]
    Invalid {
        /// The element.
        name: &'static str,
        /// Its text.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// One element: its local name, its text (concatenated, unescaped) and its child elements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlElement {
    /// The local name (without a namespace prefix).
    pub name: String,
    /// The element's own text, unescaped.
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<XmlElement>,
}

impl XmlElement {
    /// A leaf element with text.
    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Self {
        XmlElement {
            name: name.into(),
            text: text.into(),
            children: Vec::new(),
        }
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children named `name`.
    pub fn children_named<'s>(
        &'s self,
        name: &'s str,
    ) -> impl Iterator<Item = &'s XmlElement> + 's {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// The text of a required child.
    pub(crate) fn required(&self, name: &'static str) -> Result<&str, XmlError> {
        self.text_of(name).ok_or_else(|| XmlError::Missing {
            parent: self.name.clone(),
            name,
        })
    }

    /// A child's text parsed as a number, if present.
    pub(crate) fn number<T: std::str::FromStr>(
        &self,
        name: &'static str,
    ) -> Result<Option<T>, XmlError> {
        self.text_of(name)
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| XmlError::Invalid {
                    name,
                    value: v.to_owned(),
                    expected: "a number",
                })
            })
            .transpose()
    }

    /// A child's text as a boolean (`true`/`false`), absent meaning false.
    pub(crate) fn flag(&self, name: &'static str) -> Result<bool, XmlError> {
        match self.text_of(name).map(str::trim) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(XmlError::Invalid {
                name,
                value: v.to_owned(),
                expected: "true or false",
            }),
        }
    }

    /// A child's text as an RFC 3339 timestamp, if present.
    pub(crate) fn timestamp(
        &self,
        name: &'static str,
    ) -> Result<Option<crate::time::Timestamp>, XmlError> {
        self.text_of(name)
            .map(|v| {
                crate::time::Timestamp::parse_rfc3339(v.trim()).map_err(|_| XmlError::Invalid {
                    name,
                    value: v.to_owned(),
                    expected: "an RFC 3339 time",
                })
            })
            .transpose()
    }

    /// Writes the element (and its subtree) as XML.
    pub fn write_to(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        out.push('>');
        push_escaped(out, &self.text);
        for c in &self.children {
            c.write_to(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// Parses `body` into its root element.
pub fn parse(body: &[u8]) -> Result<XmlElement, XmlError> {
    let text =
        std::str::from_utf8(body).map_err(|e| XmlError::Malformed(format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    let malformed = |e: &dyn std::fmt::Display| XmlError::Malformed(e.to_string());
    loop {
        let event = reader.read_event().map_err(|e| malformed(&e))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::Malformed("content after the root element".into()));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::Malformed(format!(
                        "nested deeper than {MAX_DEPTH} elements"
                    )));
                }
                stack.push(XmlElement {
                    name: local_name(start.local_name().as_ref())?,
                    ..Default::default()
                });
            }
            Event::Empty(start) => {
                let el = XmlElement {
                    name: local_name(start.local_name().as_ref())?,
                    ..Default::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let mut el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unbalanced end tag".into()))?;
                // Indentation between child elements is not content.
                if !el.children.is_empty() && el.text.trim().is_empty() {
                    el.text.clear();
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(|e| malformed(&e))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => {
                        return Err(XmlError::Malformed("text outside the root element".into()));
                    }
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| malformed(&e))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None => {
                        return Err(XmlError::Malformed("CDATA outside the root element".into()));
                    }
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| malformed(&e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| malformed(&e))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| XmlError::Malformed(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&resolved),
                    None => {
                        return Err(XmlError::Malformed(
                            "reference outside the root element".into(),
                        ));
                    }
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unexpected end of document".into()));
    }
    root.ok_or_else(|| XmlError::Malformed("empty document".into()))
}

/// Parses `body` and checks that its root is `expected`.
pub(crate) fn parse_root(body: &[u8], expected: &'static str) -> Result<XmlElement, XmlError> {
    let root = parse(body)?;
    if root.name != expected {
        return Err(XmlError::UnexpectedRoot {
            expected,
            found: root.name,
        });
    }
    Ok(root)
}

fn local_name(raw: &[u8]) -> Result<String, XmlError> {
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|e| XmlError::Malformed(format!("element name is not UTF-8: {e}")))
}

/// Escapes text the way S3 writes it in the documents it answers: `&`, `<` and `>` only;
/// quotes stay literal (`<ETag>"…"</ETag>`, `the resource's CORS spec`), which is legal in
/// element text and what clients that read S3's bodies as text expect to find.
pub fn escape_text(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['&', '<', '>']) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Appends `<name>text</name>` with the text escaped as S3 does ([`escape_text`]).
pub(crate) fn push_text_leaf(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape_text(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Appends `s` with `& < > " '` escaped.
pub(crate) fn push_escaped(out: &mut String, s: &str) {
    out.push_str(&quick_xml::escape::escape(s));
}

/// Appends `<name>escaped text</name>`.
pub(crate) fn push_leaf(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_escaped(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_entities_and_namespaces() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<s3:Root xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/"><Key>a &amp; b &#x1234; &lt;</Key><Empty/><Data><![CDATA[<raw>]]></Data></s3:Root>"#;
        let root = parse(body).unwrap();
        assert_eq!(root.name, "Root");
        assert_eq!(root.text_of("Key"), Some("a & b \u{1234} <"));
        assert_eq!(root.text_of("Empty"), Some(""));
        assert_eq!(root.text_of("Data"), Some("<raw>"));
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            &b""[..],
            b"<a>",
            b"<a></b>",
            b"</a>",
            b"<a>&bogus;</a>",
            b"<a/><b/>",
            b"\xff\xfe",
            b"text",
            b"<a><b></a></b>",
        ] {
            assert!(
                matches!(parse(bad), Err(XmlError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn writes_escaped() {
        let el = XmlElement {
            name: "A".into(),
            text: String::new(),
            children: vec![XmlElement::leaf("B", "x<&>\"y")],
        };
        let mut s = String::new();
        el.write_to(&mut s);
        assert_eq!(s, "<A><B>x&lt;&amp;&gt;&quot;y</B></A>");
        assert_eq!(parse(s.as_bytes()).unwrap(), el);
    }

    #[test]
    fn text_escaped_as_s3_keeps_quotes() {
        assert_eq!(escape_text("\"e\" it's"), "\"e\" it's");
        assert_eq!(escape_text("a<b>&c"), "a&lt;b&gt;&amp;c");
        let mut s = String::new();
        push_text_leaf(&mut s, "ETag", "\"x&y\"");
        assert_eq!(s, "<ETag>\"x&amp;y\"</ETag>");
        let root = parse(format!("<R>{s}</R>").as_bytes()).unwrap();
        assert_eq!(root.text_of("ETag"), Some("\"x&y\""));
    }
}
