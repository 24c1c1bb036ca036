//! Tag definitions: XPath 1.0 expressions over a machine's hardware details, as MAAS has them.
//! A machine has a defined tag when the expression's value is true (XPath's `boolean()`: a
//! non-empty node-set, a non-zero number, a non-empty string) over the lshw-shaped document
//! ([`crate::lshw`]). As in MAAS (`merge_details`), the LLDP capture (lldpctl's XML), when
//! there is one, is appended under the root with its elements in the `lldp` namespace, so
//! unprefixed expressions read the lshw part and `lldp:` ones the neighbours; the prefixes
//! `lshw` and `lldp` are bound to the namespaces of those names.
//!
//! Evaluated by `sxd-xpath` over an `sxd-document` tree. Pure: no IO.

use sxd_document::dom::{ChildOfElement, Document, Element};
use sxd_document::{Package, QName};
use sxd_xpath::{Context, Factory, XPath};

/// Why a definition could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// Not an XPath 1.0 expression (MAAS: "Invalid XPath expression: …").
    #[error("Invalid XPath expression: {0}")]
    Invalid(String),
    /// The hardware details are not XML.
    #[error("invalid hardware details: {0}")]
    Details(String),
}

/// The namespace prefixes a definition may use.
const NAMESPACES: [(&str, &str); 2] = [("lldp", "lldp"), ("lshw", "lshw")];

/// The empty details a definition is tried on when it is checked.
const EMPTY: &str = "<list/>";

/// How deeply brackets may nest in a definition (the parser recurses on them).
const MAX_DEPTH: usize = 64;

/// What `sxd-xpath` would panic on rather than refuse, checked first: a namespace prefix
/// other than `lldp` and `lshw` (it has no error for an unbound prefix) and brackets nested
/// deeper than [`MAX_DEPTH`].
fn precheck(definition: &str) -> Result<(), TagError> {
    let chars: Vec<char> = definition.chars().collect();
    let name_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    let (mut depth, mut quote, mut i) = (0usize, None, 0);
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(TagError::Invalid(format!(
                        "brackets nested more than {MAX_DEPTH} deep"
                    )));
                }
            }
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            (None, ':') if chars.get(i + 1) == Some(&':') => i += 1,
            (None, ':') => {
                let start = chars[..i]
                    .iter()
                    .rposition(|c| !name_char(*c))
                    .map_or(0, |p| p + 1);
                let prefix: String = chars[start..i].iter().collect();
                if !prefix.is_empty() && !NAMESPACES.iter().any(|(p, _)| *p == prefix) {
                    return Err(TagError::Invalid(format!(
                        "unknown namespace prefix '{prefix}' (lldp and lshw are known)"
                    )));
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Run `f`, a panic inside `sxd-xpath` becoming an invalid definition.
fn guarded<T>(f: impl FnOnce() -> Result<T, TagError>) -> Result<T, TagError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(TagError::Invalid(
            "the expression could not be evaluated".into(),
        ))
    })
}

/// A checked definition.
pub struct Definition {
    xpath: XPath,
}

impl std::fmt::Debug for Definition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Definition")
    }
}

/// Whether a stored definition makes a tag defined (else it is a manual tag).
pub fn is_defined(definition: &str) -> bool {
    !definition.trim().is_empty()
}

impl Definition {
    /// Compile a definition and try it on empty details, so that what only evaluation finds
    /// (an unknown function or namespace prefix, a wrong number of arguments) is refused now.
    pub fn parse(definition: &str) -> Result<Definition, TagError> {
        precheck(definition)?;
        let xpath = guarded(|| {
            Factory::new()
                .build(definition.trim())
                .map_err(|e| TagError::Invalid(e.to_string()))
        })?
        .ok_or_else(|| TagError::Invalid("the expression is empty".into()))?;
        let d = Definition { xpath };
        let empty = Details::parse(EMPTY, None)?;
        d.evaluate(&empty)?;
        Ok(d)
    }

    fn evaluate(&self, details: &Details) -> Result<bool, TagError> {
        let doc = details.package.as_document();
        let mut ctx = Context::new();
        for (prefix, uri) in NAMESPACES {
            ctx.set_namespace(prefix, uri);
        }
        guarded(|| {
            self.xpath
                .evaluate(&ctx, doc.root())
                .map(|v| v.boolean())
                .map_err(|e| TagError::Invalid(e.to_string()))
        })
    }

    /// Whether the details have the tag.
    pub fn matches(&self, details: &Details) -> Result<bool, TagError> {
        self.evaluate(details)
    }
}

/// A machine's hardware details, parsed once for any number of definitions.
pub struct Details {
    package: Package,
}

impl std::fmt::Debug for Details {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Details")
    }
}

/// Drop the XML declaration and comments before the root (sxd-document wants the
/// declaration's `?>` right after its last attribute; lshw writes `standalone="yes" ?>`).
fn body(xml: &str) -> &str {
    let mut s = xml.trim_start_matches('\u{feff}').trim_start();
    loop {
        if s.starts_with("<?") {
            match s.find("?>") {
                Some(end) => s = s[end + 2..].trim_start(),
                None => return s,
            }
        } else if s.starts_with("<!--") {
            match s.find("-->") {
                Some(end) => s = s[end + 3..].trim_start(),
                None => return s,
            }
        } else {
            return s;
        }
    }
}

/// Copy `from` (of another document) under `to`, every element renamed into `ns`.
fn adopt(doc: Document<'_>, to: Element<'_>, from: Element<'_>, ns: &str) {
    let e = doc.create_element(QName::with_namespace_uri(
        Some(ns),
        from.name().local_part(),
    ));
    e.set_preferred_prefix(Some(ns));
    for a in from.attributes() {
        e.set_attribute_value(a.name().local_part(), a.value());
    }
    for c in from.children() {
        match c {
            ChildOfElement::Element(child) => adopt(doc, e, child, ns),
            ChildOfElement::Text(t) => e.append_child(doc.create_text(t.text())),
            _ => {}
        }
    }
    to.append_child(e);
}

impl Details {
    /// The lshw document, with the LLDP capture when there is one. An LLDP capture that is
    /// not XML is left out (MAAS logs it and goes on); lshw that is not XML is an error.
    pub fn parse(lshw: &str, lldp: Option<&str>) -> Result<Details, TagError> {
        let package = sxd_document::parser::parse(body(lshw))
            .map_err(|e| TagError::Details(format!("{e:?}")))?;
        if let Some(lldp) = lldp {
            if let Ok(extra) = sxd_document::parser::parse(body(lldp)) {
                let doc = package.as_document();
                let root = doc.root().children().into_iter().find_map(|c| c.element());
                let from = extra
                    .as_document()
                    .root()
                    .children()
                    .into_iter()
                    .find_map(|c| c.element());
                if let (Some(root), Some(from)) = (root, from) {
                    adopt(doc, root, from, "lldp");
                }
            }
        }
        Ok(Details { package })
    }
}

/// Check a definition for the `definition` field: `Err` holds MAAS's message.
pub fn check_definition(definition: &str) -> Result<(), String> {
    Definition::parse(definition)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether the lshw document (and LLDP capture) has the tag defined by `definition`.
pub fn tag_matches(definition: &str, lshw: &str, lldp: Option<&str>) -> Result<bool, TagError> {
    Definition::parse(definition)?.matches(&Details::parse(lshw, lldp)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LSHW: &str = r#"<?xml version="1.0" standalone="yes" ?>
<!-- generated by lshw-B.02.18 -->
<list>
<node id="ubuntu" claimed="true" class="system">
 <product>Standard PC (Q35 + ICH9, 2009)</product>
 <vendor>QEMU</vendor>
  <node id="core" claimed="true" class="bus">
    <node id="cpu" claimed="true" class="processor">
     <product>Intel Core Processor (Haswell)</product>
     <capabilities>
      <capability id="fpu" >mathematical co-processor</capability>
      <capability id="vmx" >CPU virtualization (Vanderpool)</capability>
     </capabilities>
    </node>
    <node id="memory" claimed="true" class="memory">
     <size units="bytes">17179869184</size>
    </node>
    <node id="network" claimed="true" class="network">
     <vendor>Intel Corporation</vendor>
     <logicalname>eth0</logicalname>
     <serial>52:54:00:12:34:56</serial>
     <size units="bit/s">1000000000</size>
    </node>
    <node id="disk" claimed="true" class="disk">
     <product>QEMU HARDDISK</product>
     <logicalname>/dev/sda</logicalname>
     <size units="bytes">10737418240</size>
    </node>
  </node>
</node>
</list>
"#;

    const LLDP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<lldp label="LLDP neighbors">
<interface label="Interface" name="eth0" via="LLDP">
 <chassis label="Chassis"><id label="ChassisID" type="mac">00:11:22:33:44:55</id><name label="SysName">switch-1</name></chassis>
</interface>
</lldp>"#;

    #[test]
    fn definitions_over_details() {
        // (definition, matches the sample with LLDP)
        let table: &[(&str, bool)] = &[
            (r#"//node[@id="memory"]/size > 8000000000"#, true),
            (r#"//node[@id="memory"]/size > 32000000000"#, false),
            (r#"//capability[@id="vmx"]"#, true),
            (r#"//capability[@id="svm"]"#, false),
            (
                r#"//node[@class="network"]/vendor[contains(., "Intel")]"#,
                true,
            ),
            (
                r#"//node[@class="network"]/vendor[contains(., "Broadcom")]"#,
                false,
            ),
            (r#"//node[@class="disk"]/product = "QEMU HARDDISK""#, true),
            (r#"//node[@class="disk"]/product = "Samsung SSD""#, false),
            (r#"count(//node[@class="disk"]) = 1"#, true),
            (r#"/list/node[@class="system"]/vendor = "QEMU""#, true),
            ("//node[@id='nothing']", false),
            ("true()", true),
            ("false()", false),
            ("string(//node[@id='memory']/size/@units)", true),
            ("//lldp:interface[@name='eth0']", true),
            ("//lldp:chassis/lldp:name = 'switch-1'", true),
            ("//lldp:chassis/lldp:name = 'switch-2'", false),
            ("//interface", false),
        ];
        let details = Details::parse(LSHW, Some(LLDP)).unwrap();
        for (def, want) in table {
            let d = Definition::parse(def).unwrap_or_else(|e| panic!("{def}: {e}"));
            assert_eq!(d.matches(&details).unwrap(), *want, "{def}");
            assert_eq!(tag_matches(def, LSHW, Some(LLDP)).unwrap(), *want, "{def}");
        }
        // Without the LLDP capture its expressions find nothing.
        let bare = Details::parse(LSHW, None).unwrap();
        let d = Definition::parse("//lldp:interface").unwrap();
        assert!(!d.matches(&bare).unwrap());
        // An LLDP capture that is not XML is left out.
        let broken = Details::parse(LSHW, Some("<lldp><oops")).unwrap();
        assert!(Definition::parse("//capability[@id='vmx']")
            .unwrap()
            .matches(&broken)
            .unwrap());
    }

    #[test]
    fn invalid_definitions_are_refused() {
        for def in [
            "//node[",
            "//node[@id=\"memory\"",
            "node/",
            "///",
            "",
            "   ",
            "unknown-function(1)",
            "//foo:bar",
            "contains()",
            "1 +",
            "@",
            "//a:b",
            "//*[namespace-uri() = 'x' and foo:bar]",
            &format!("{}1{}", "(".repeat(200), ")".repeat(200)),
        ] {
            let e = check_definition(def).expect_err(def);
            assert!(e.starts_with("Invalid XPath expression: "), "{def}: {e}");
        }
        for def in [
            "//node",
            "//lshw:node",
            "//lldp:interface",
            "1 = 1",
            "//node[@id = 'a:b']",
            "//node/child::size",
            "((((1))))",
        ] {
            assert_eq!(check_definition(def), Ok(()), "{def}");
        }
        assert!(is_defined(" //node "));
        assert!(!is_defined("  "));
    }

    #[test]
    fn details_that_are_not_xml_are_an_error() {
        assert!(matches!(
            tag_matches("//node", "<list><node>", None),
            Err(TagError::Details(_))
        ));
        assert!(matches!(
            tag_matches("//node", "not xml", None),
            Err(TagError::Details(_))
        ));
    }
}
