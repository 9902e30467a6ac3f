//! JSON_SR keys and values: JSON in the Confluent wire format (a zero byte and the schema's id,
//! 4 bytes big-endian, before the JSON text), with a JSON Schema in the registry.
//!
//! Reading skips the header and decodes the JSON as the JSON format does (any writer schema
//! will do: fields are matched to columns by name, ignoring case). Writing puts this source's
//! schema id first. The schema generated for columns is Confluent's Connect translation, as
//! ksqlDB registers it: an object whose properties are optional (`oneOf` null and the type),
//! with `connect.type` for the integer and bytes kinds and `connect.index` for field order;
//! DECIMAL, DATE, TIME and TIMESTAMP carry Connect's logical names as `title`.

use super::cased;
use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use datafusion::arrow::array::ArrayRef;
use serde_json::{json, Value};

/// The schema ksqlDB registers for `cols` (their object, or the one column's type when not
/// `wrapped`).
pub fn schema_for(cols: &[(&str, &SqlType)], wrapped: bool) -> Value {
    if !wrapped {
        if let Some((_, ty)) = cols.first() {
            return optional(ty);
        }
    }
    object(cols.iter().map(|(n, t)| (*n, *t)))
}

fn object<'a>(fields: impl Iterator<Item = (&'a str, &'a SqlType)>) -> Value {
    let mut properties = serde_json::Map::new();
    for (i, (name, ty)) in fields.enumerate() {
        let mut field = optional(ty);
        field["connect.index"] = json!(i);
        properties.insert(name.to_string(), field);
    }
    json!({"type": "object", "properties": properties})
}

fn optional(ty: &SqlType) -> Value {
    json!({"oneOf": [{"type": "null"}, json_type(ty)]})
}

fn json_type(ty: &SqlType) -> Value {
    let logical = |title: &str, ty: &str, connect: &str| json!({"type": ty, "title": title, "connect.version": 1, "connect.type": connect});
    match ty {
        SqlType::Boolean => json!({"type": "boolean"}),
        SqlType::Int => json!({"type": "integer", "connect.type": "int32"}),
        SqlType::Bigint => json!({"type": "integer", "connect.type": "int64"}),
        SqlType::Double => json!({"type": "number", "connect.type": "float64"}),
        SqlType::String => json!({"type": "string"}),
        SqlType::Bytes => json!({"type": "string", "connect.type": "bytes"}),
        SqlType::Decimal(p, s) => json!({"type": "number",
            "title": "org.apache.kafka.connect.data.Decimal", "connect.version": 1,
            "connect.type": "bytes",
            "connect.parameters": {"scale": s.to_string(), "connect.decimal.precision": p.to_string()}}),
        SqlType::Date => logical("org.apache.kafka.connect.data.Date", "integer", "int32"),
        SqlType::Time => logical("org.apache.kafka.connect.data.Time", "integer", "int32"),
        SqlType::Timestamp => logical(
            "org.apache.kafka.connect.data.Timestamp",
            "integer",
            "int64",
        ),
        SqlType::Array(t) => json!({"type": "array", "items": optional(t)}),
        SqlType::Map(k, v) if **k == SqlType::String => {
            json!({"type": "object", "additionalProperties": optional(v), "connect.type": "map"})
        }
        // Other keys: an array of key/value objects, as Connect writes them.
        SqlType::Map(k, v) => json!({"type": "array", "connect.type": "map",
            "items": {"type": "object", "properties": {
                "key": {"connect.index": 0, "oneOf": [{"type": "null"}, json_type(k)]},
                "value": {"connect.index": 1, "oneOf": [{"type": "null"}, json_type(v)]}}}}),
        SqlType::Struct(fields) => object(fields.iter().map(|(n, t)| (n.as_str(), t))),
    }
}

/// The columns of a JSON schema's object (schema inference), upper-cased unless `exact`.
pub fn columns_of(text: &str, exact: bool) -> Result<Vec<(String, SqlType)>> {
    let schema = parse(text)?;
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(vec![("ROWVAL".into(), cased(sql_type(&schema)?, exact))]);
    };
    let mut fields: Vec<(i64, String, SqlType)> = Vec::new();
    for (i, (name, t)) in props.iter().enumerate() {
        let at = t["connect.index"].as_i64().unwrap_or(i as i64);
        let name = if exact {
            name.clone()
        } else {
            name.to_uppercase()
        };
        fields.push((at, name, cased(sql_type(t)?, exact)));
    }
    fields.sort_by_key(|f| f.0);
    Ok(fields.into_iter().map(|(_, n, t)| (n, t)).collect())
}

/// The SQL type of a whole JSON schema (an inferred key, or an unwrapped value).
pub fn type_of(text: &str, exact: bool) -> Result<SqlType> {
    Ok(cased(sql_type(&parse(text)?)?, exact))
}

fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::statement(format!("Invalid JSON schema: {e}")))
}

/// The SQL type of a JSON schema, after ksqlDB's mapping (`integer` is BIGINT unless Connect
/// says int32, `number` DOUBLE unless a Connect DECIMAL).
fn sql_type(t: &Value) -> Result<SqlType> {
    let unsupported = || Error::statement(format!("Unsupported JSON schema type: {t}"));
    if let Some(branches) = t
        .get("oneOf")
        .or_else(|| t.get("anyOf"))
        .and_then(Value::as_array)
    {
        let other: Vec<&Value> = branches.iter().filter(|b| b["type"] != "null").collect();
        return match other.as_slice() {
            [one] => sql_type(one),
            _ => Err(unsupported()),
        };
    }
    let connect = t["connect.type"].as_str();
    let title = t["title"].as_str().unwrap_or_default();
    let ty = match &t["type"] {
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|s| *s != "null")
            .unwrap_or("null"),
        v => v.as_str().unwrap_or("object"),
    };
    Ok(match (ty, connect) {
        ("boolean", _) => SqlType::Boolean,
        ("integer", _) if title.ends_with(".Date") => SqlType::Date,
        ("integer", _) if title.ends_with(".Time") => SqlType::Time,
        ("integer", _) if title.ends_with(".Timestamp") => SqlType::Timestamp,
        ("integer", Some("int32" | "int16" | "int8")) => SqlType::Int,
        ("integer", _) => SqlType::Bigint,
        ("number", _) if title.ends_with(".Decimal") => {
            let params = &t["connect.parameters"];
            let num =
                |k: &str, d: i64| params[k].as_str().and_then(|s| s.parse().ok()).unwrap_or(d);
            SqlType::Decimal(
                num("connect.decimal.precision", 64) as u8,
                num("scale", 0) as i8,
            )
        }
        ("number", _) => SqlType::Double,
        ("string", Some("bytes")) => SqlType::Bytes,
        ("string", _) => SqlType::String,
        ("array", Some("map")) => {
            let p = &t["items"]["properties"];
            SqlType::Map(
                Box::new(sql_type(&p["key"])?),
                Box::new(sql_type(&p["value"])?),
            )
        }
        ("array", _) => SqlType::Array(Box::new(sql_type(&t["items"])?)),
        ("object", _) => match (t.get("properties"), t.get("additionalProperties")) {
            (Some(Value::Object(props)), _) => SqlType::Struct(
                props
                    .iter()
                    .map(|(n, x)| Ok((n.clone(), sql_type(x)?)))
                    .collect::<Result<_>>()?,
            ),
            (_, Some(v @ Value::Object(_))) => {
                SqlType::Map(Box::new(SqlType::String), Box::new(sql_type(v)?))
            }
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    })
}

/// A source's JSON_SR key or value: the id it writes with, and the properties of that schema
/// no column has (written as null, as ksqlDB writes a record with its schema).
#[derive(Debug)]
pub struct JsonSrCodec {
    pub id: u32,
    pub extra: Vec<String>,
}

impl JsonSrCodec {
    /// The codec writing `cols` with schema `id` (`text`).
    pub fn new(id: u32, text: &str, cols: &[(&str, &SqlType)]) -> JsonSrCodec {
        let schema: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let extra = schema["properties"]
            .as_object()
            .map(|props| {
                props
                    .keys()
                    .filter(|k| !cols.iter().any(|(c, _)| c.eq_ignore_ascii_case(k)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        JsonSrCodec { id, extra }
    }
}

impl JsonSrCodec {
    /// The JSON text of a record (after the wire format's header).
    pub fn body<'a>(&self, bytes: &'a [u8]) -> std::result::Result<&'a [u8], String> {
        match bytes {
            [0, _, _, _, _, rest @ ..] => Ok(rest),
            _ => Err("Unknown magic byte! (not in the Confluent JSON_SR wire format)".into()),
        }
    }

    pub fn decode(
        &self,
        bytes: &[u8],
        cols: &[(&str, &SqlType)],
        wrapped: bool,
    ) -> std::result::Result<Vec<Value>, String> {
        super::json::decode(self.body(bytes)?, cols, wrapped)
    }

    pub fn encode_row(
        &self,
        arrays: &[(&str, &SqlType, &ArrayRef)],
        row: usize,
        wrapped: bool,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        out.push(0);
        out.extend_from_slice(&self.id.to_be_bytes());
        let start = out.len();
        super::json::encode_row(arrays, row, wrapped, out)?;
        if wrapped && !self.extra.is_empty() && out.last() == Some(&b'}') {
            out.pop();
            for name in &self.extra {
                if out.len() > start + 1 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(name.clone()).to_string().as_bytes());
                out.extend_from_slice(b":null");
            }
            out.push(b'}');
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_translate_both_ways() {
        let point = SqlType::Struct(vec![("X".into(), SqlType::Int)]);
        let m = SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Double));
        let cols: Vec<(&str, &SqlType)> = vec![
            ("ID", &SqlType::Bigint),
            ("N", &SqlType::Int),
            ("AMOUNT", &SqlType::Decimal(4, 2)),
            ("P", &point),
            ("M", &m),
            ("AT", &SqlType::Timestamp),
        ];
        let schema = schema_for(&cols, true);
        assert_eq!(
            schema["properties"]["N"],
            json!({"connect.index": 1, "oneOf": [{"type": "null"}, {"type": "integer", "connect.type": "int32"}]})
        );
        let back = columns_of(&schema.to_string(), false).unwrap();
        let want: Vec<(String, SqlType)> = cols
            .iter()
            .map(|(n, t)| (n.to_string(), (*t).clone()))
            .collect();
        assert_eq!(back, want);
        // A schema written by hand: integers are BIGINT, names keep their case when exact.
        let theirs = r#"{"type":"object","properties":{"c1":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}}}"#;
        assert_eq!(
            columns_of(theirs, true).unwrap(),
            vec![
                ("c1".to_string(), SqlType::Bigint),
                (
                    "tags".to_string(),
                    SqlType::Array(Box::new(SqlType::String))
                )
            ]
        );
        assert_eq!(
            type_of(
                r#"{"oneOf":[{"type":"null"},{"type":"integer","connect.type":"int32"}]}"#,
                false
            )
            .unwrap(),
            SqlType::Int
        );
        assert!(columns_of("{", false).is_err());
    }

    #[test]
    fn records_carry_the_header_before_the_json() {
        let codec = JsonSrCodec {
            id: 7,
            extra: Vec::new(),
        };
        let cols: Vec<(&str, &SqlType)> = vec![("A", &SqlType::Int)];
        let bytes = b"\0\0\0\0\x07{\"a\":5}";
        assert_eq!(codec.decode(bytes, &cols, true).unwrap(), vec![json!(5)]);
        assert!(codec.decode(b"{\"a\":5}", &cols, true).is_err());
        let a: ArrayRef = std::sync::Arc::new(datafusion::arrow::array::Int32Array::from(vec![9]));
        let mut out = Vec::new();
        codec
            .encode_row(&[("A", &SqlType::Int, &a)], 0, true, &mut out)
            .unwrap();
        assert_eq!(out, b"\0\0\0\0\x07{\"A\":9}");
        // A schema with a property no column has: written as null.
        let schema =
            r#"{"type":"object","properties":{"A":{"type":"integer"},"b":{"type":"string"}}}"#;
        let codec = JsonSrCodec::new(7, schema, &cols);
        out.clear();
        codec
            .encode_row(&[("A", &SqlType::Int, &a)], 0, true, &mut out)
            .unwrap();
        assert_eq!(out, b"\0\0\0\0\x07{\"A\":9,\"b\":null}");
    }
}
