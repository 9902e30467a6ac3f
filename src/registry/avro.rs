//! AVRO schemas in the registry (`apache-avro`): what identifies one, and Avro's schema
//! resolution rules for compatibility.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

/// Parses an AVRO schema. `apache-avro` panics on some invalid names (it unwraps a name's
/// parse), so names are checked first and a panic still left is caught: no schema a client
/// sends can bring a request down.
pub(crate) fn parse(text: &str) -> Result<Schema, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    check_names(&json)?;
    let text = text.to_string();
    std::panic::catch_unwind(move || Schema::parse_str(&text))
        .map_err(|_| "Invalid AVRO schema".to_string())?
        .map_err(|e| e.to_string())
}

/// Every named type's name (and namespace) is dotted identifiers, as Avro requires.
fn check_names(v: &serde_json::Value) -> Result<(), String> {
    let ident = |s: &str| {
        let mut c = s.chars();
        c.next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
    };
    match v {
        serde_json::Value::Object(o) => {
            let named = matches!(
                o.get("type").and_then(|t| t.as_str()),
                Some("record" | "enum" | "fixed" | "error")
            );
            for key in ["name", "namespace"] {
                let Some(n) = o.get(key).and_then(|n| n.as_str()) else {
                    continue;
                };
                let empty_namespace = key == "namespace" && n.is_empty();
                if named && !empty_namespace && !n.split('.').all(ident) {
                    return Err(format!("Invalid schema {key} {n:?}"));
                }
            }
            o.values().try_for_each(check_names)
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(check_names),
        _ => Ok(()),
    }
}

/// The parsed schema written out again: spacing and attribute order do not matter, defaults
/// and everything else that changes what the schema reads do (Avro's Parsing Canonical Form
/// drops defaults, so two schemas that resolve differently would share an id). Confluent
/// compares AVRO schemas the same way.
pub(super) fn canonical(text: &str) -> Result<String, String> {
    let schema = parse(text)?;
    serde_json::to_string(&schema).map_err(|e| e.to_string())
}

/// Whether data written with `writer` can be read with `reader`; why not if not.
pub(super) fn can_read(writer: &str, reader: &str) -> Result<(), String> {
    let (writer, reader) = (parse(writer)?, parse(reader)?);
    SchemaCompatibility::can_read(&writer, &reader).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn invalid_names_are_errors_not_panics() {
        for bad in [
            r#"{"type":"record","name":" ","fields":[]}"#,
            r#"{"type":"record","name":"a. b","fields":[]}"#,
            r#"{"type":"record","name":"r","namespace":"1x","fields":[]}"#,
            r#"{"type":"enum","name":"9","symbols":["A"]}"#,
        ] {
            assert!(super::parse(bad).is_err(), "{bad}");
        }
        assert!(super::parse(r#"{"type":"record","name":"a.b","fields":[]}"#).is_ok());
    }
}
