//! `brooklet server` as a Confluent schema registry: Confluent's own Python client and AVRO
//! serializer use it, and what it holds survives a restart.

mod common;

use common::http::request;
use serde_json::{json, Value};

const ORDER: &str = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}"#;

fn get(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) = request(addr, "GET", path, "", "");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn send(addr: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, body) = request(addr, method, path, "", &body.to_string());
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn confluents_client_and_avro_serializer_use_the_servers_registry() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("data"));
    let url = format!("http://{}", server.addr);
    let (ok, out) = common::kafka::client("registry_proof.py", &[&url]);
    assert!(ok && out.trim().ends_with("ok"), "{out}");
}

#[test]
fn the_registry_keeps_its_schemas_across_a_restart_and_answers_confluents_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = common::http::start(&data);
    let addr = &server.addr;
    let (status, body) = send(
        addr,
        "POST",
        "/subjects/t-value/versions",
        json!({"schema": ORDER}),
    );
    assert_eq!((status, &body), (200, &json!({"id": 1})));
    let (status, body) = send(
        addr,
        "POST",
        "/subjects/t-value/versions",
        json!({"schema": "{\"type\": \"nope\"}"}),
    );
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (422, Some(42201)),
        "{body}"
    );
    let (status, body) = get(addr, "/subjects/other/versions");
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (404, Some(40401)),
        "{body}"
    );
    let (status, body) = get(addr, "/subjects/t-value/versions/0");
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (422, Some(42202)),
        "{body}"
    );
    let (status, body) = send(
        addr,
        "PUT",
        "/config/t-value",
        json!({"compatibility": "FULL"}),
    );
    assert_eq!((status, &body), (200, &json!({"compatibility": "FULL"})));
    let (status, body) = send(addr, "PUT", "/config", json!({"compatibility": "SIDEWAYS"}));
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (422, Some(42203)),
        "{body}"
    );
    drop(server);
    // Another server over the same data directory has it all.
    let server = common::http::start(&data);
    let addr = &server.addr;
    assert_eq!(get(addr, "/subjects"), (200, json!(["t-value"])));
    let (status, body) = get(addr, "/subjects/t-value/versions/latest");
    assert_eq!(status, 200);
    assert_eq!(
        (body["version"].clone(), body["id"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        body["schema"].as_str().map(str::to_string),
        Some(ORDER.to_string())
    );
    let (status, body) = get(addr, "/schemas/ids/1");
    assert_eq!((status, body["schema"].as_str()), (200, Some(ORDER)));
    assert_eq!(
        get(addr, "/config/t-value"),
        (200, json!({"compatibilityLevel": "FULL"}))
    );
    assert_eq!(
        get(addr, "/config"),
        (200, json!({"compatibilityLevel": "BACKWARD"}))
    );
    let (status, body) = get(addr, "/config/other");
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (404, Some(40408)),
        "{body}"
    );
}

/// A PROTOBUF schema registered as text is served as text, and as its base64
/// `FileDescriptorProto` with `?format=serialized` (what Confluent's Python deserializer asks
/// for); its id is the one given when a registration names it.
#[test]
fn protobuf_schemas_are_served_as_descriptors_when_asked() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("data"));
    let addr = &server.addr;
    let text = "syntax = \"proto3\";\nmessage Order { int64 id = 1; string item = 2; }\n";
    let body = json!({"schema": text, "schemaType": "PROTOBUF", "id": 42});
    let (status, got) = send(addr, "POST", "/subjects/o-value/versions", body);
    assert_eq!((status, &got), (200, &json!({"id": 42})));
    let (_, plain) = get(addr, "/schemas/ids/42");
    assert_eq!(plain["schema"], text);
    assert_eq!(plain["schemaType"], "PROTOBUF");
    for path in [
        "/schemas/ids/42?format=serialized",
        "/subjects/o-value/versions/latest?format=serialized",
    ] {
        let (status, served) = get(addr, path);
        assert_eq!(status, 200, "{served}");
        let encoded = served["schema"].as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        // The descriptor names the message and its fields.
        let raw = String::from_utf8_lossy(&bytes);
        assert!(
            raw.contains("Order") && raw.contains("item") && !raw.contains("syntax ="),
            "{path}: {encoded}"
        );
    }
}

/// Schemas `apache-avro` panics on (an invalid record name) are refused with Confluent's
/// "invalid schema" code, not a server error, and the server keeps answering.
#[test]
fn schemas_with_invalid_names_are_refused_not_crashed_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::http::start(&dir.path().join("data"));
    let addr = &server.addr;
    for schema in [
        r#"{"type":"record","name":" ","fields":[]}"#,
        r#"{"type":"record","name":"ok","fields":[{"name":"f","type":{"type":"enum","name":"9 x","symbols":["A"]}}]}"#,
    ] {
        let (status, body) = send(
            addr,
            "POST",
            "/subjects/x-value/versions",
            json!({ "schema": schema }),
        );
        assert_eq!(
            (status, body["error_code"].as_u64()),
            (422, Some(42201)),
            "{schema}: {body}"
        );
    }
    assert_eq!(get(addr, "/subjects"), (200, json!([])));
}
