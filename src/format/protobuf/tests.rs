use super::*;
use crate::log::EmbeddedLog;
use crate::registry::Registry;
use datafusion::arrow::array::{
    Date32Array, Decimal128Array, Int32Array, Int64Array, ListArray, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};

fn registry() -> Arc<dyn Schemas> {
    Arc::new(Registry::open(Arc::new(EmbeddedLog::in_memory()), "_schemas").unwrap())
}

#[test]
fn the_generated_schema_is_ksqldbs_and_compiles() {
    let point = SqlType::Struct(vec![("X".into(), SqlType::Int)]);
    let tags = SqlType::Array(Box::new(SqlType::String));
    let m = SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Bigint));
    let cols: Vec<(&str, &SqlType)> = vec![
        ("ID", &SqlType::Bigint),
        ("P", &point),
        ("TAGS", &tags),
        ("M", &m),
        ("D", &SqlType::Date),
    ];
    let text = schema_for(&cols, None).unwrap();
    assert_eq!(
        text,
        "syntax = \"proto3\";\nimport \"google/type/date.proto\";\n\n\
         message ConnectDefault1 {\n  int64 ID = 1;\n  ConnectDefault2 P = 2;\n  \
         repeated string TAGS = 3;\n  map<string, int64> M = 4;\n  google.type.Date D = 5;\n  \
         message ConnectDefault2 {\n    int32 X = 1;\n  }\n}\n"
    );
    let back = columns_of(&text, &[], None, false).unwrap();
    let names: Vec<&str> = back.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ID", "P", "TAGS", "M", "D"]);
    assert_eq!(back[1].1, point);
    assert_eq!(back[3].1, m);
    assert!(schema_for(&[("A", &SqlType::Array(Box::new(tags.clone())))], None).is_err());
    assert!(compile("message {").is_err());
}

#[test]
fn rows_survive_the_wire_format_and_nulls_read_as_proto3_defaults() {
    let r = registry();
    let point = SqlType::Struct(vec![("X".into(), SqlType::Int)]);
    let longs = SqlType::Array(Box::new(SqlType::Bigint));
    let cols: Vec<(&str, &SqlType)> = vec![
        ("ID", &SqlType::Bigint),
        ("NAME", &SqlType::String),
        ("AMOUNT", &SqlType::Decimal(4, 2)),
        ("DAY", &SqlType::Date),
        ("P", &point),
        ("NS", &longs),
    ];
    let codec = ProtoCodec::register(Some(r.clone()), "t-value", &cols, None).unwrap();
    let x: ArrayRef = Arc::new(Int32Array::from(vec![Some(3), None]));
    let struct_array: ArrayRef = Arc::new(StructArray::from(vec![(
        Arc::new(Field::new("X", DataType::Int32, true)),
        x,
    )]));
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![Some(7), None])),
        Arc::new(StringArray::from(vec![Some("a"), None])),
        Arc::new(
            Decimal128Array::from(vec![Some(150), None])
                .with_precision_and_scale(4, 2)
                .unwrap(),
        ),
        Arc::new(Date32Array::from(vec![Some(19000), None])),
        struct_array,
        Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), Some(2)]),
            None,
        ])),
    ];
    let named: Vec<(&str, &SqlType, &ArrayRef)> = cols
        .iter()
        .zip(&arrays)
        .map(|((n, t), a)| (*n, *t, a))
        .collect();
    let mut bytes = Vec::new();
    codec.encode_row(&named, 0, &mut bytes).unwrap();
    // The Confluent header: magic byte, schema id 1, message index 0.
    assert_eq!(&bytes[..6], &[0, 0, 0, 0, 1, 0]);
    let back = codec.decode(&bytes, &cols).unwrap();
    assert_eq!(
        serde_json::Value::Array(back).to_string(),
        r#"[7,"a",1.50,19000,{"X":3},[1,2]]"#
    );
    // The DECIMAL's precision and scale are in the schema (Confluent's field metadata).
    let schema = r.latest("t-value").unwrap().schema;
    let inferred = columns_of(&schema, &[], None, false).unwrap();
    assert_eq!(inferred[2].1, SqlType::Decimal(4, 2), "{schema}");
    let mut nulls = Vec::new();
    codec.encode_row(&named, 1, &mut nulls).unwrap();
    let back = codec.decode(&nulls, &cols).unwrap();
    assert_eq!(
        serde_json::Value::Array(back).to_string(),
        r#"[0,"",null,null,{"X":0},[]]"#,
        "scalars unset are their defaults, messages unset are null"
    );
    assert!(codec.decode(&[1, 2, 3], &cols).is_err());
    assert!(
        codec.decode(&[0, 0, 0, 0, 9, 0, 1], &cols).is_err(),
        "unknown id"
    );
}

#[test]
fn records_of_another_writer_schema_are_read_by_field_name() {
    let r = registry();
    let theirs = "syntax = \"proto3\";\npackage shop;\n\
        message Other { string x = 1; }\n\
        message Order { string note = 3; int64 id = 1; Status status = 2; }\n\
        enum Status { NEW = 0; PAID = 1; }\n";
    let id = r
        .register("orders-value", SchemaType::Protobuf, theirs)
        .unwrap();
    let writer = ProtoCodec::new(theirs, None, Some(id), Some(r.clone())).unwrap();
    let order = compile(theirs).unwrap().messages[1].clone();
    let msg = from_json(&json!({"ID": 9, "status": "PAID", "note": "hi"}), &order).unwrap();
    // The second message of the schema: indexes [1].
    let mut bytes = vec![0, 0, 0, 0, id as u8];
    bytes.extend(indexes(1));
    msg.encode(&mut bytes).unwrap();
    let cols: Vec<(&str, &SqlType)> = vec![
        ("ID", &SqlType::Bigint),
        ("STATUS", &SqlType::String),
        ("MISSING", &SqlType::Int),
    ];
    let ours = ProtoCodec::register(Some(r), "mine-value", &cols, None).unwrap();
    let back = ours.decode(&bytes, &cols).unwrap();
    assert_eq!(
        serde_json::Value::Array(back).to_string(),
        r#"[9,"PAID",null]"#
    );
    assert_eq!(writer.message().name(), "Other");
}

#[test]
fn protobuf_nosr_is_the_bare_message() {
    let cols: Vec<(&str, &SqlType)> = vec![("N", &SqlType::Int)];
    let codec = ProtoCodec::register(None, "t-value", &cols, None).unwrap();
    let mut out = Vec::new();
    codec.encode_json(&json!({"N": 150}), &mut out).unwrap();
    assert_eq!(out, [0x08, 0x96, 0x01]);
    assert_eq!(codec.decode_json(&out).unwrap(), json!({"N": 150}));
}

#[test]
fn a_schema_registered_as_a_base64_descriptor_compiles_too() {
    use prost_reflect::prost_types::{
        field_descriptor_proto::Type, DescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    };
    let field = |name: &str, number: i32, ty: Type| FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        r#type: Some(ty as i32),
        ..Default::default()
    };
    let file = FileDescriptorProto {
        name: Some("bid.proto".into()),
        package: Some("proof".into()),
        syntax: Some("proto3".into()),
        message_type: vec![DescriptorProto {
            name: Some("Bid".into()),
            field: vec![
                field("auction", 1, Type::Int64),
                field("bidder", 2, Type::String),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let text = base64::engine::general_purpose::STANDARD.encode(file.encode_to_vec());
    let cols = columns_of(&text, &[], None, false).unwrap();
    assert_eq!(
        cols,
        vec![
            ("AUCTION".to_string(), SqlType::Bigint),
            ("BIDDER".to_string(), SqlType::String)
        ]
    );
    assert_eq!(compile(&text).unwrap().messages[0].full_name(), "proof.Bid");
    assert_eq!(
        serialized(&text, &[]).unwrap(),
        text,
        "a descriptor is served as it came"
    );
    // Text is served as its descriptor, which compiles to the same messages.
    let generated = schema_for(&[("N", &SqlType::Int)], None).unwrap();
    let served = serialized(&generated, &[]).unwrap();
    assert_eq!(
        columns_of(&served, &[], None, false).unwrap(),
        vec![("N".to_string(), SqlType::Int)]
    );
}
