//! AVRO schemas in the registry (`apache-avro`): what identifies one, and Avro's schema
//! resolution rules for compatibility.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

fn parse(text: &str) -> Result<Schema, String> {
    Schema::parse_str(text).map_err(|e| e.to_string())
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
