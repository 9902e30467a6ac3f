use super::*;
use crate::log::EmbeddedLog;
use std::sync::Arc;

const V1: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;
/// V1 with a field that has a default: reads V1's data (BACKWARD), and V1 reads its data.
const V2: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},
    {"name":"note","type":"string","default":""}]}"#;
/// A new field without a default: cannot read V1's data.
const V3_BAD: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},
    {"name":"qty","type":"int"}]}"#;

fn registry(log: &SharedLog) -> Registry {
    Registry::open(log.clone(), "_schemas").unwrap()
}

fn memory() -> SharedLog {
    Arc::new(EmbeddedLog::in_memory())
}

#[test]
fn a_schema_has_one_id_across_subjects_and_versions_count_per_subject() {
    let r = registry(&memory());
    assert_eq!(r.register("a-value", SchemaType::Avro, V1), Ok(1));
    // The same schema, written differently: the same id, no new version.
    let spaced = V1.replace(',', " , ");
    assert_eq!(r.register("a-value", SchemaType::Avro, &spaced), Ok(1));
    assert_eq!(r.versions("a-value"), Ok(vec![1]));
    assert_eq!(r.register("b-value", SchemaType::Avro, V1), Ok(1));
    assert_eq!(r.register("a-value", SchemaType::Avro, V2), Ok(2));
    assert_eq!(r.versions("a-value"), Ok(vec![1, 2]));
    let latest = r.version("a-value", None).unwrap();
    assert_eq!((latest.version, latest.id), (2, 2));
    assert_eq!(r.schema(1).unwrap().text, V1);
    assert_eq!(r.subjects(), Ok(vec!["a-value".into(), "b-value".into()]));
    let found = r.lookup("b-value", SchemaType::Avro, &spaced).unwrap();
    assert_eq!((found.version, found.id), (1, 1));
}

#[test]
fn an_incompatible_schema_is_refused_at_the_subjects_level() {
    let r = registry(&memory());
    r.register("s", SchemaType::Avro, V1).unwrap();
    let refused = r.register("s", SchemaType::Avro, V3_BAD).unwrap_err();
    assert_eq!((refused.status, refused.code), (409, 409), "{refused:?}");
    assert_eq!(r.compatible("s", None, SchemaType::Avro, V3_BAD), Ok(false));
    assert_eq!(r.compatible("s", None, SchemaType::Avro, V2), Ok(true));
    // Under NONE for this subject alone, it goes in; another subject keeps BACKWARD.
    r.set_level(Some("s"), Compatibility::None).unwrap();
    assert_eq!(r.register("s", SchemaType::Avro, V3_BAD), Ok(2));
    assert_eq!(r.level(Some("s"), false), Ok(Compatibility::None));
    assert_eq!(r.level(None, false), Ok(Compatibility::Backward));
    assert_eq!(r.level(Some("t"), false).unwrap_err().code, 40408);
    assert_eq!(r.level(Some("t"), true), Ok(Compatibility::Backward));
}

#[test]
fn forward_and_transitive_levels_check_the_other_way_and_every_version() {
    let r = registry(&memory());
    // FORWARD: the old schema must read the new one's data. V1 skips V3_BAD's extra field.
    r.set_level(None, Compatibility::Forward).unwrap();
    r.register("f", SchemaType::Avro, V1).unwrap();
    assert_eq!(r.register("f", SchemaType::Avro, V3_BAD), Ok(2));
    // ... but V3_BAD cannot read V1's data (no default for `qty`).
    r.set_level(None, Compatibility::None).unwrap();
    r.register("t", SchemaType::Avro, V3_BAD).unwrap();
    r.register("t", SchemaType::Avro, V1).unwrap();
    assert_eq!(
        r.register("f", SchemaType::Avro, V1),
        Ok(1),
        "already there"
    );
    r.set_level(None, Compatibility::Forward).unwrap();
    assert_eq!(r.register("f", SchemaType::Avro, V2).unwrap_err().code, 409);
    // FULL_TRANSITIVE checks V2 against V3_BAD too, which cannot read its data; FULL only
    // against the latest, V1.
    r.set_level(Some("t"), Compatibility::FullTransitive)
        .unwrap();
    assert_eq!(r.register("t", SchemaType::Avro, V2).unwrap_err().code, 409);
    r.set_level(Some("t"), Compatibility::Full).unwrap();
    assert_eq!(r.register("t", SchemaType::Avro, V2), Ok(3));
}

#[test]
fn deletes_are_soft_and_everything_comes_back_from_the_topic() {
    let log = memory();
    let r = registry(&log);
    r.register("s", SchemaType::Avro, V1).unwrap();
    r.register("s", SchemaType::Avro, V2).unwrap();
    r.register("j", SchemaType::Json, r#"{"type": "object"}"#)
        .unwrap();
    r.set_level(Some("j"), Compatibility::Full).unwrap();
    assert_eq!(r.delete("s", Some(Some(1))), Ok(vec![1]));
    assert_eq!(r.versions("s"), Ok(vec![2]));
    assert_eq!(r.version("s", Some(1)).unwrap_err().code, 40402);
    // A second registry over the same topic (a restart, or another server) sees it all.
    let again = registry(&log);
    assert_eq!(again.versions("s"), Ok(vec![2]));
    assert_eq!(again.schema(1).unwrap().text, V1, "ids stay readable");
    assert_eq!(again.level(Some("j"), false), Ok(Compatibility::Full));
    let j = again.version("j", None).unwrap();
    assert_eq!((j.kind, j.id), (SchemaType::Json, 3));
    assert_eq!(again.delete("s", None), Ok(vec![2]));
    assert_eq!(again.versions("s").unwrap_err().code, 40401);
    assert_eq!(r.subjects(), Ok(vec!["j".into()]));
    // Registering again after a delete makes the next version, with the same id.
    assert_eq!(r.register("s", SchemaType::Avro, V1), Ok(1));
    assert_eq!(r.versions("s"), Ok(vec![3]));
}

#[test]
fn bad_input_gets_confluents_codes() {
    let r = registry(&memory());
    let bad = r.register("s", SchemaType::Avro, "{not avro").unwrap_err();
    assert_eq!((bad.status, bad.code), (422, 42201));
    let bad = r.register("s", SchemaType::Json, "{not json").unwrap_err();
    assert_eq!(bad.code, 42201);
    assert_eq!(SchemaType::parse(Some("XML")).unwrap_err().code, 42201);
    assert_eq!(parse_version("0").unwrap_err().code, 42202);
    assert_eq!(parse_version("x").unwrap_err().code, 42202);
    assert_eq!(parse_version("latest"), Ok(None));
    assert_eq!(Compatibility::parse("sideways").unwrap_err().code, 42203);
    assert_eq!(r.schema(9).unwrap_err().code, 40403);
    assert_eq!(r.versions("none").unwrap_err().code, 40401);
    r.register("s", SchemaType::Avro, V1).unwrap();
    let other = r.register("s", SchemaType::Json, "{}").unwrap_err();
    assert_eq!(other.code, 409, "another kind of schema is incompatible");
    assert_eq!(r.lookup("s", SchemaType::Avro, V2).unwrap_err().code, 40403);
}

#[test]
fn schemas_that_differ_only_in_a_default_are_two_schemas() {
    let r = registry(&memory());
    let other_default = V2.replace(r#""default":"""#, r#""default":"n/a""#);
    assert_ne!(other_default, V2);
    r.set_level(None, Compatibility::None).unwrap();
    assert_eq!(r.register("s", SchemaType::Avro, V2), Ok(1));
    assert_eq!(r.register("s", SchemaType::Avro, &other_default), Ok(2));
}

#[test]
fn a_registration_may_name_its_id_but_not_take_anothers() {
    let log = memory();
    let r = registry(&log);
    assert_eq!(r.register_as("a", SchemaType::Avro, V1, Some(101)), Ok(101));
    // Ids given after a named one follow the highest.
    assert_eq!(r.register("b", SchemaType::Avro, r#""int""#), Ok(102));
    let taken = r.register_as("c", SchemaType::Avro, r#""long""#, Some(101));
    assert_eq!(taken.unwrap_err().code, 42205);
    // The same schema under its own id elsewhere is fine.
    assert_eq!(r.register_as("c", SchemaType::Avro, V1, Some(101)), Ok(101));
    // A restarted registry reads the ids back.
    let again = registry(&log);
    assert_eq!(again.schema(101).unwrap().kind, SchemaType::Avro);
    assert_eq!(again.version("b", None).unwrap().id, 102);
}

#[test]
fn references_must_exist_and_are_part_of_a_schema() {
    let log = memory();
    let r = registry(&log);
    let event = "syntax = \"proto3\";\nmessage Event { int64 at = 1; }\n";
    let main = "syntax = \"proto3\";\nimport \"event.proto\";\nmessage L { Event e = 1; }\n";
    let to = |version| Reference {
        name: "event.proto".into(),
        subject: "event.proto".into(),
        version,
    };
    let missing = r.register_with("l-value", SchemaType::Protobuf, main, &[to(1)], None);
    assert_eq!(missing.unwrap_err().code, 42201, "a reference to nothing");
    let event_id = r
        .register("event.proto", SchemaType::Protobuf, event)
        .unwrap();
    let id = r
        .register_with("l-value", SchemaType::Protobuf, main, &[to(1)], None)
        .unwrap();
    assert_ne!(id, event_id);
    // The same text without the reference is another schema.
    r.set_level(None, Compatibility::None).unwrap();
    let bare = r
        .register("other-value", SchemaType::Protobuf, main)
        .unwrap();
    assert_ne!(bare, id);
    // A restarted registry knows the reference, and resolves it to the imported text.
    let again = registry(&log);
    let schema = again.schema(id).unwrap();
    assert_eq!(schema.references, vec![to(1)]);
    let imports = Schemas::imports(&again, &schema.references).unwrap();
    assert_eq!(
        imports,
        vec![("event.proto".to_string(), event.to_string())]
    );
    assert_eq!(
        again.version("l-value", None).unwrap().to_json()["references"][0]["subject"],
        "event.proto"
    );
}
