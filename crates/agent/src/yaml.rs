//! Result files (`$RESULT_PATH`) are YAML: JSON values written in block style, strings quoted
//! whenever a plain scalar could be read as something else.

use serde_json::Value;

fn plain_ok(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '/');
    first_ok
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "nan" | "inf"
        )
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if plain_ok(s) => s.clone(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        other => other.to_string(),
    }
}

fn nested(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn write(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                let key = scalar(&Value::String(k.clone()));
                if nested(val) {
                    out.push_str(&format!("{pad}{key}:\n"));
                    write(out, val, indent + 2);
                } else {
                    out.push_str(&format!("{pad}{key}: {}\n", scalar(val)));
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for item in a {
                if nested(item) {
                    out.push_str(&format!("{pad}-\n"));
                    write(out, item, indent + 2);
                } else {
                    out.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// `v` as a YAML document.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_the_regions_parser() {
        let v = json!({
            "status": "skipped",
            "reason": "no SMART: virtio disk \"vda\" # not a comment: really",
            "yes": "no",
            "count": 3,
            "ratio": 0.5,
            "ok": true,
            "none": null,
            "empty": {},
            "list": [],
            "disks": [
                {"name": "vda", "errors": {"read": 0, "write": 1}},
                {"name": "sda", "tags": ["a", "b c", "123"]},
                "-dash",
            ],
            "multi": "line one\nline two\ttab",
            "unicode": "Ünïcödé",
        });
        let text = to_yaml(&v);
        assert!(text.contains("\nstatus: skipped\n"), "{text}");
        let back = ingot_core::scripts::parse_yaml(&text).unwrap();
        assert_eq!(back, v, "{text}");
        assert_eq!(
            ingot_core::scripts::result_yaml_status(text.as_bytes())
                .unwrap()
                .as_deref(),
            Some("skipped")
        );
    }

    #[test]
    fn scalars_alone() {
        assert_eq!(to_yaml(&json!("x")), "x\n");
        assert_eq!(to_yaml(&json!("true")), "\"true\"\n");
        assert_eq!(to_yaml(&json!(5)), "5\n");
    }
}
