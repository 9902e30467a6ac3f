//! A schema registry elsewhere (`ksql.schema.registry.url`): Confluent's REST API, spoken with
//! a blocking HTTP client (`ureq`), so a Brooklet process can use Confluent's Schema Registry,
//! or another `brooklet server`'s, instead of the one in its own log.

use super::{
    Reference, RegistryError, RegistryResult, Schema, SchemaType, Schemas, SubjectVersion,
};
use serde_json::{json, Value};

const SR_JSON: &str = "application/vnd.schemaregistry.v1+json";

/// The registry at a base URL (`http://host:8081`).
pub struct RemoteRegistry {
    base: String,
    agent: ureq::Agent,
}

impl RemoteRegistry {
    pub fn new(url: &str) -> RemoteRegistry {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .http_status_as_error(false)
            .build();
        RemoteRegistry {
            base: url.trim_end_matches('/').to_string(),
            agent: config.into(),
        }
    }

    /// Sends a request; the answer's JSON, or the registry's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> RegistryResult<Value> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| RegistryError {
            status: 503,
            code: 50001,
            message: format!(
                "The schema registry at {} cannot be reached: {e}",
                self.base
            ),
        };
        let response = match (method, body) {
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Content-Type", SR_JSON)
                .send(b.to_string().as_bytes()),
            _ => self.agent.get(&url).header("Accept", SR_JSON).call(),
        };
        let mut response = response.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(unreachable)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status >= 400 {
            return Err(RegistryError {
                status,
                code: value["error_code"].as_u64().unwrap_or(status as u64) as u32,
                message: value["message"]
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string),
            });
        }
        Ok(value)
    }
}

fn encoded(subject: &str) -> String {
    percent_encoding::utf8_percent_encode(subject, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Schemas for RemoteRegistry {
    fn schema(&self, id: u32) -> RegistryResult<Schema> {
        let v = self.call("GET", &format!("/schemas/ids/{id}"), None)?;
        let kind = SchemaType::parse(v["schemaType"].as_str())?;
        let text = v["schema"].as_str().unwrap_or_default().to_string();
        Ok(Schema::new(
            id,
            kind,
            text,
            Reference::parse_all(&v["references"]),
        ))
    }

    fn register(&self, subject: &str, kind: SchemaType, text: &str) -> RegistryResult<u32> {
        let mut body = json!({"schema": text});
        if kind != SchemaType::Avro {
            body["schemaType"] = json!(kind.name());
        }
        let path = format!("/subjects/{}/versions", encoded(subject));
        let v = self.call("POST", &path, Some(body))?;
        Ok(v["id"].as_u64().unwrap_or(0) as u32)
    }

    fn version_of(&self, subject: &str, version: Option<u32>) -> RegistryResult<SubjectVersion> {
        let which = version.map_or_else(|| "latest".to_string(), |n| n.to_string());
        let path = format!("/subjects/{}/versions/{which}", encoded(subject));
        let v = self.call("GET", &path, None)?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version: v["version"].as_u64().unwrap_or(0) as u32,
            id: v["id"].as_u64().unwrap_or(0) as u32,
            kind: SchemaType::parse(v["schemaType"].as_str())?,
            schema: v["schema"].as_str().unwrap_or_default().to_string(),
            references: Reference::parse_all(&v["references"]),
        })
    }
}
