use super::*;
use crate::log::EmbeddedLog;
use crate::registry::{Registry, SchemaType};
use datafusion::arrow::array::{
    Decimal128Array, Int32Array, StringArray, TimestampMillisecondArray,
};

fn registry() -> Arc<Registry> {
    Arc::new(Registry::open(Arc::new(EmbeddedLog::in_memory()), "_schemas").unwrap())
}

#[test]
fn the_generated_schema_is_ksqldbs() {
    let cols = [
        ("ID", &SqlType::Bigint),
        ("PRICE", &SqlType::Decimal(10, 2)),
        ("AT", &SqlType::Timestamp),
        (
            "WHO",
            &SqlType::Struct(vec![("NAME".into(), SqlType::String)]),
        ),
    ];
    let s = schema_for(&cols, true, None, false);
    assert_eq!(s["name"], "KsqlDataSourceSchema");
    assert_eq!(s["namespace"], "io.confluent.ksql.avro_schemas");
    let f = &s["fields"];
    assert_eq!(
        f[0],
        json!({"name": "ID", "type": ["null", "long"], "default": null})
    );
    assert_eq!(
        f[1]["type"][1],
        json!({"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2})
    );
    assert_eq!(
        f[2]["type"][1],
        json!({"type": "long", "logicalType": "timestamp-millis"})
    );
    assert_eq!(f[3]["type"][1]["name"], "KsqlDataSourceSchema_WHO");
    assert_eq!(
        f[3]["type"][1]["connect.name"],
        "io.confluent.ksql.avro_schemas.KsqlDataSourceSchema_WHO"
    );
    // One unwrapped column is its type: optional for a value, bare for a key.
    assert_eq!(
        schema_for(&[("K", &SqlType::Int)], false, None, false),
        json!(["null", "int"])
    );
    assert_eq!(
        schema_for(&[("K", &SqlType::Int)], false, None, true),
        json!("int")
    );
    // A struct key is the record named after its source.
    let point = SqlType::Struct(vec![("X".into(), SqlType::Int)]);
    let name = key_name("MY_SINK");
    assert_eq!(name, "io.confluent.ksql.avro_schemas.MySinkKey");
    let key = schema_for(&[("ROWKEY", &point)], false, Some(&name), true);
    assert_eq!(
        (&key["name"], &key["namespace"], &key["connect.name"]),
        (
            &json!("MySinkKey"),
            &json!("io.confluent.ksql.avro_schemas"),
            &json!(name)
        )
    );
    // And what the schema says comes back as the columns.
    let back = columns_of(&s.to_string(), false).unwrap();
    let want: Vec<(String, SqlType)> = cols
        .iter()
        .map(|(n, t)| (n.to_string(), (*t).clone()))
        .collect();
    assert_eq!(back, want);
}

/// Writes `batch`'s row `row` with `codec` and reads it back.
fn round_trip(codec: &AvroCodec, cols: &[(&str, &SqlType)], arrays: &[ArrayRef]) -> Vec<Value> {
    let input: Vec<(&str, &SqlType, &ArrayRef)> = cols
        .iter()
        .zip(arrays)
        .map(|((n, t), a)| (*n, *t, a))
        .collect();
    let mut out = Vec::new();
    codec.encode_row(&input, 0, &mut out).unwrap();
    assert_eq!(out[0], 0, "magic byte");
    assert_eq!(
        u32::from_be_bytes([out[1], out[2], out[3], out[4]]),
        codec.id()
    );
    codec.decode(&out, cols).unwrap()
}

#[test]
fn values_survive_a_round_trip_through_the_wire_format() {
    let r = registry();
    let dec = SqlType::Decimal(10, 2);
    let cols = [
        ("N", &SqlType::Int),
        ("S", &SqlType::String),
        ("P", &dec),
        ("T", &SqlType::Timestamp),
    ];
    let codec = AvroCodec::register(r.clone(), "t-value", &cols, true, None, false).unwrap();
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![-7])),
        Arc::new(StringArray::from(vec![Some("é")])),
        Arc::new(
            Decimal128Array::from(vec![-12345])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ),
        Arc::new(TimestampMillisecondArray::from(vec![None::<i64>])),
    ];
    let back = round_trip(&codec, &cols, &arrays);
    assert_eq!(
        back,
        vec![json!(-7), json!("é"), json!("-123.45"), Value::Null]
    );
    // The schema went to the registry under the subject.
    assert_eq!(r.version("t-value", None).unwrap().id, codec.id());
    // A bare key: the type itself, no record.
    let key =
        AvroCodec::register(r, "t-key", &[("K", &SqlType::Bigint)], false, None, true).unwrap();
    let k: Vec<ArrayRef> = vec![Arc::new(datafusion::arrow::array::Int64Array::from(vec![
        42,
    ]))];
    assert_eq!(
        round_trip(&key, &[("K", &SqlType::Bigint)], &k),
        vec![json!(42)]
    );
}

#[test]
fn records_of_another_writer_schema_are_read_by_field_name() {
    let r = registry();
    // A producer's own schema: lower-case names, a field the source lacks, one missing.
    let theirs = r#"{"type":"record","name":"Order","fields":[
        {"name":"id","type":"long"},{"name":"extra","type":"string"},
        {"name":"tags","type":{"type":"array","items":"string"}}]}"#;
    let id = r.register("o-value", SchemaType::Avro, theirs).unwrap();
    let schema = Schema::parse_str(theirs).unwrap();
    let value = Avro::Record(vec![
        ("id".into(), Avro::Long(5)),
        ("extra".into(), Avro::String("x".into())),
        (
            "tags".into(),
            Avro::Array(vec![Avro::String("a".into()), Avro::String("b".into())]),
        ),
    ]);
    let mut bytes = vec![0];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend(apache_avro::to_avro_datum(&schema, value).unwrap());
    let tags = SqlType::Array(Box::new(SqlType::String));
    let cols = [
        ("ID", &SqlType::Bigint),
        ("TAGS", &tags),
        ("GONE", &SqlType::Int),
    ];
    let ours = AvroCodec::register(r.clone(), "mine-value", &cols, true, None, false).unwrap();
    assert_eq!(
        ours.decode(&bytes, &cols).unwrap(),
        vec![json!(5), json!(["a", "b"]), Value::Null]
    );
    // Not the wire format, an id the registry does not have, bytes that are not the datum.
    assert!(ours
        .decode(b"{}", &cols)
        .unwrap_err()
        .contains("magic byte"));
    let mut unknown = bytes.clone();
    unknown[4] = 99;
    assert!(ours.decode(&unknown, &cols).unwrap_err().contains("99"));
    let cut = &bytes[..6];
    assert!(ours.decode(cut, &cols).is_err());
}
