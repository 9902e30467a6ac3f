//! QTT's JSON record notation ("specs") for AVRO, as ksqlDB's runner reads and writes it: an
//! input spec is converted to the subject's latest schema (record fields matched ignoring
//! case, numbers and booleans parsed from their text, DECIMAL from a number, BYTES from base64)
//! and written in the Confluent wire format under that schema's id; an output record is read
//! with its writer schema and shown with the schema's own field names, every field present.

use crate::format::avro::decimal_bytes;
use crate::format::build::parse_decimal;
use crate::format::json::decimal_text;
use crate::registry::Schemas;
use apache_avro::schema::{Name, ResolvedSchema, Schema};
use apache_avro::types::Value as Avro;
use base64::Engine as _;
use datafusion::arrow::datatypes::Decimal128Type;
use serde_json::{json, Value};
use std::collections::HashMap;

type Names<'a> = HashMap<Name, &'a Schema>;

fn names(schema: &Schema) -> Result<Names<'_>, String> {
    let resolved = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
    Ok(resolved.get_names().clone())
}

fn parsed(schemas: &dyn Schemas, id: u32) -> Result<Schema, String> {
    let text = schemas.schema(id).map_err(|e| e.message)?.text;
    crate::registry::parse_avro(&text)
}

/// A spec written under `subject`'s latest schema, in the wire format.
pub fn encode(schemas: &dyn Schemas, subject: &str, spec: &Value) -> Result<Vec<u8>, String> {
    let latest = schemas
        .latest(subject)
        .map_err(|e| format!("{subject}: {}", e.message))?;
    let schema = parsed(schemas, latest.id)?;
    let names = names(&schema)?;
    let value = to_avro(spec, &schema, &names)?;
    let datum = apache_avro::to_avro_datum(&schema, value).map_err(|e| e.to_string())?;
    let mut out = vec![0];
    out.extend_from_slice(&latest.id.to_be_bytes());
    out.extend_from_slice(&datum);
    Ok(out)
}

/// A record in the wire format as a spec.
pub fn decode(schemas: &dyn Schemas, bytes: &[u8]) -> Result<Value, String> {
    let [0, a, b, c, d, datum @ ..] = bytes else {
        return Err("not in the Confluent wire format".into());
    };
    let schema = parsed(schemas, u32::from_be_bytes([*a, *b, *c, *d]))?;
    let names = names(&schema)?;
    let mut datum = datum;
    let value =
        apache_avro::from_avro_datum(&schema, &mut datum, None).map_err(|e| e.to_string())?;
    to_spec(value, &schema, &names)
}

fn resolve<'a>(schema: &'a Schema, names: &Names<'a>) -> Result<&'a Schema, String> {
    match schema {
        Schema::Ref { name } => names
            .get(name)
            .copied()
            .ok_or_else(|| format!("unknown AVRO type {name}")),
        other => Ok(other),
    }
}

/// A spec's text as ksqlDB's runner reads it (`spec.toString()`).
fn text(spec: &Value) -> String {
    match spec {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse<T: std::str::FromStr>(spec: &Value) -> Result<T, String> {
    text(spec)
        .parse()
        .map_err(|_| format!("cannot read {spec} as a number"))
}

fn to_avro(spec: &Value, schema: &Schema, names: &Names) -> Result<Avro, String> {
    let schema = resolve(schema, names)?;
    if let Schema::Union(u) = schema {
        let variants = u.variants();
        let null = variants.iter().position(|v| *v == Schema::Null);
        if spec.is_null() {
            let i = null.ok_or("null for a union without null")?;
            return Ok(Avro::Union(i as u32, Box::new(Avro::Null)));
        }
        let i = (0..variants.len())
            .find(|i| Some(*i) != null)
            .ok_or("a union of null only")?;
        return Ok(Avro::Union(
            i as u32,
            Box::new(to_avro(spec, &variants[i], names)?),
        ));
    }
    if spec.is_null() {
        return Ok(Avro::Null);
    }
    Ok(match schema {
        Schema::Null => Avro::Null,
        Schema::Boolean => Avro::Boolean(text(spec).eq_ignore_ascii_case("true")),
        Schema::Int => Avro::Int(parse(spec)?),
        Schema::Date => Avro::Date(parse(spec)?),
        Schema::TimeMillis => Avro::TimeMillis(parse(spec)?),
        Schema::Long => Avro::Long(parse(spec)?),
        Schema::TimestampMillis => Avro::TimestampMillis(parse(spec)?),
        Schema::Float => Avro::Float(parse(spec)?),
        Schema::Double => Avro::Double(parse(spec)?),
        Schema::String => Avro::String(text(spec)),
        Schema::Enum(e) => {
            let s = text(spec);
            let i = e.symbols.iter().position(|x| *x == s);
            Avro::Enum(
                i.ok_or(format!("{s} is not a symbol of {}", e.name))? as u32,
                s,
            )
        }
        Schema::Bytes => Avro::Bytes(base64(spec)?),
        Schema::Fixed(f) => Avro::Fixed(f.size, base64(spec)?),
        Schema::Decimal(d) => {
            let (Value::Number(_) | Value::String(_)) = spec else {
                return Err("DECIMAL type requires JSON number in test data".into());
            };
            let unscaled =
                parse_decimal::<Decimal128Type>(&text(spec), d.precision as u8, d.scale as i8)
                    .ok_or_else(|| {
                        format!("{spec} does not fit DECIMAL({}, {})", d.precision, d.scale)
                    })?;
            let mut bytes = decimal_bytes(unscaled, d.precision as u8);
            if let Schema::Fixed(f) = resolve(&d.inner, names)? {
                let fill = if unscaled < 0 { 0xff } else { 0 };
                while bytes.len() < f.size {
                    bytes.insert(0, fill);
                }
            }
            Avro::Decimal(apache_avro::Decimal::from(bytes))
        }
        Schema::Array(a) => Avro::Array(
            spec.as_array()
                .ok_or("an array is expected")?
                .iter()
                .map(|x| to_avro(x, &a.items, names))
                .collect::<Result<_, _>>()?,
        ),
        Schema::Map(m) => Avro::Map(
            spec.as_object()
                .ok_or("an object is expected")?
                .iter()
                .map(|(k, x)| Ok((k.clone(), to_avro(x, &m.types, names)?)))
                .collect::<Result<_, String>>()?,
        ),
        Schema::Record(r) => {
            let given = spec.as_object().ok_or("an object is expected")?;
            let mut fields = Vec::with_capacity(r.fields.len());
            for f in &r.fields {
                let v = given
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&f.name))
                    .map_or(&Value::Null, |(_, v)| v);
                fields.push((f.name.clone(), to_avro(v, &f.schema, names)?));
            }
            Avro::Record(fields)
        }
        other => return Err(format!("the test data cannot be written as {other:?}")),
    })
}

fn base64(spec: &Value) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text(spec))
        .map_err(|e| format!("bytes are base64 in test data: {e}"))
}

fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!(text))
}

fn to_spec(value: Avro, schema: &Schema, names: &Names) -> Result<Value, String> {
    let schema = resolve(schema, names)?;
    Ok(match (value, schema) {
        (Avro::Union(i, inner), Schema::Union(u)) => {
            let branch = u.variants().get(i as usize).ok_or("bad union branch")?;
            to_spec(*inner, branch, names)?
        }
        (Avro::Null, _) => Value::Null,
        (Avro::Boolean(b), _) => json!(b),
        (Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i), _) => json!(i),
        (Avro::Long(i) | Avro::TimestampMillis(i), _) => json!(i),
        (Avro::Float(f), _) => number(&f.to_string()),
        (Avro::Double(f), _) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        (Avro::String(s) | Avro::Enum(_, s), _) => json!(s),
        (Avro::Bytes(b) | Avro::Fixed(_, b), _) => {
            json!(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Avro::Decimal(d), Schema::Decimal(ds)) => {
            let bytes = <Vec<u8>>::try_from(&d).map_err(|e| e.to_string())?;
            let unscaled = crate::format::avro::unscaled(&bytes)?;
            number(&decimal_text(unscaled, ds.scale as i8))
        }
        (Avro::Array(items), Schema::Array(a)) => Value::Array(
            items
                .into_iter()
                .map(|x| to_spec(x, &a.items, names))
                .collect::<Result<_, _>>()?,
        ),
        (Avro::Map(m), Schema::Map(ms)) => Value::Object(
            m.into_iter()
                .map(|(k, x)| Ok((k, to_spec(x, &ms.types, names)?)))
                .collect::<Result<_, String>>()?,
        ),
        (Avro::Record(fields), Schema::Record(r)) => {
            let mut out = serde_json::Map::new();
            for ((name, x), f) in fields.into_iter().zip(&r.fields) {
                out.insert(name, to_spec(x, &f.schema, names)?);
            }
            Value::Object(out)
        }
        (other, _) => return Err(format!("cannot show {other:?} as test data")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::EmbeddedLog;
    use crate::registry::{Registry, SchemaType};
    use std::sync::Arc;

    #[test]
    fn specs_survive_the_wire_format_with_the_schemas_names() {
        let registry = Registry::open(Arc::new(EmbeddedLog::in_memory()), "_schemas").unwrap();
        let schema = json!({"type": "record", "name": "r", "fields": [
            {"name": "Id", "type": "long"},
            {"name": "amount", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}]},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "suit", "type": {"type": "enum", "name": "Suit", "symbols": ["A", "B"]}},
            {"name": "gone", "type": ["null", "int"]}]});
        registry
            .register("t-value", SchemaType::Avro, &schema.to_string())
            .unwrap();
        let spec: Value =
            serde_json::from_str(r#"{"ID": "7", "AMOUNT": 1.50, "tags": ["x"], "suit": "B"}"#)
                .unwrap();
        let bytes = encode(&registry, "t-value", &spec).unwrap();
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, 1]);
        let back = decode(&registry, &bytes).unwrap();
        assert_eq!(
            back.to_string(),
            r#"{"Id":7,"amount":1.50,"tags":["x"],"suit":"B","gone":null}"#
        );
        assert!(encode(&registry, "t-value", &json!({"ID": "x"})).is_err());
        assert!(encode(&registry, "other-value", &spec).is_err());
    }
}
