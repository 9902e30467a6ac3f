//! The Kafka backend's settings, read from the server properties as ksqlDB names them:
//! `bootstrap.servers`, `ksql.service.id`, `security.protocol`, SASL (`sasl.mechanism` with
//! `sasl.jaas.config`'s PLAIN or SCRAM login module, or librdkafka's `sasl.username` /
//! `sasl.password`), TLS (`ssl.*` locations in PEM, as librdkafka reads them), each also under
//! ksqlDB's `ksql.streams.` prefix. `brooklet.kafka.<property>` passes any librdkafka property
//! through as it is. Java's keystores (`ssl.truststore.location` of a JKS file) cannot be read
//! by librdkafka and are refused with what to use instead.

use std::collections::BTreeMap;

/// ksqlDB's default `ksql.service.id`.
pub const DEFAULT_SERVICE_ID: &str = "default_";

/// Client properties librdkafka shares with Kafka's Java clients, taken from the server
/// properties (bare or under `ksql.streams.`).
const SHARED: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "client.id",
    "client.rack",
];

/// Java keystore settings, which librdkafka cannot read.
const JAVA_ONLY: &[&str] = &["ssl.truststore.location", "ssl.keystore.location"];

/// Where the cluster is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    pub bootstrap: String,
    pub service_id: String,
    /// librdkafka properties for every client (security, client id, pass-through).
    pub client: BTreeMap<String, String>,
    /// Replicas of the topics Brooklet creates without a `REPLICAS` property.
    pub replicas: i32,
    /// How long a server of the service may go silent before another takes over
    /// (`brooklet.kafka.session.timeout.ms`, the lease group's `session.timeout.ms`).
    pub session_timeout_ms: u64,
    /// `processing.guarantee` is `exactly_once_v2` (or `exactly_once`): queries write their
    /// outputs and commits in Kafka transactions (see `kafka::txn`).
    pub exactly_once: bool,
}

impl KafkaConfig {
    /// The settings for `--kafka BOOTSTRAP` (or `bootstrap.servers` in the properties, when no
    /// flag is given); `None` when neither names a cluster.
    pub fn from_settings(
        flag: Option<&str>,
        settings: &BTreeMap<String, String>,
    ) -> Result<Option<KafkaConfig>, String> {
        let get = |k: &str| {
            settings
                .get(k)
                .or_else(|| settings.get(&format!("ksql.streams.{k}")))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let Some(bootstrap) = flag
            .map(str::to_string)
            .or_else(|| get("bootstrap.servers"))
        else {
            return Ok(None);
        };
        for k in JAVA_ONLY {
            if get(k).is_some() {
                return Err(format!(
                    "{k} names a Java keystore, which Brooklet's Kafka client (librdkafka) \
                     cannot read: give PEM files in ssl.ca.location, ssl.certificate.location \
                     and ssl.key.location instead"
                ));
            }
        }
        let mut client = BTreeMap::new();
        for k in SHARED {
            if let Some(v) = get(k) {
                client.insert(k.to_string(), v);
            }
        }
        if let Some(jaas) = get("sasl.jaas.config") {
            let (user, password) = jaas_credentials(&jaas)?;
            client.entry("sasl.username".into()).or_insert(user);
            client.entry("sasl.password".into()).or_insert(password);
        }
        if let Some(m) = client.remove("sasl.mechanism") {
            client.insert("sasl.mechanisms".into(), m);
        }
        for (k, v) in settings {
            if let Some(raw) = k.strip_prefix("brooklet.kafka.") {
                if raw != "replicas" && raw != "session.timeout.ms" {
                    client.insert(raw.to_string(), v.trim().to_string());
                }
            }
        }
        let replicas = match settings.get("brooklet.kafka.replicas") {
            Some(v) => v
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|r| *r >= 1 || *r == -1)
                .ok_or_else(|| format!("brooklet.kafka.replicas must be -1 or at least 1: {v}"))?,
            None => 1,
        };
        let session_timeout_ms = match settings.get("brooklet.kafka.session.timeout.ms") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms >= 1000)
                .ok_or_else(|| {
                    format!("brooklet.kafka.session.timeout.ms must be at least 1000: {v}")
                })?,
            None => 10_000,
        };
        let exactly_once = match get("processing.guarantee").as_deref() {
            None | Some("at_least_once") => false,
            Some("exactly_once" | "exactly_once_v2" | "exactly_once_beta") => true,
            Some(other) => {
                return Err(format!(
                    "processing.guarantee must be at_least_once or exactly_once_v2, not {other}"
                ))
            }
        };
        Ok(Some(KafkaConfig {
            exactly_once,
            session_timeout_ms,
            bootstrap,
            service_id: get("ksql.service.id").unwrap_or_else(|| DEFAULT_SERVICE_ID.into()),
            client,
            replicas,
        }))
    }

    /// ksqlDB's command topic of this service: one partition, every server reads it in order.
    pub fn command_topic(&self) -> String {
        format!("_confluent-ksql-{}_command_topic", self.service_id)
    }

    /// The consumer group whose holder of the command topic's partition runs the service's
    /// queries (see `kafka::lease`).
    pub fn leader_group(&self) -> String {
        format!("_confluent-ksql-{}_brooklet_leader", self.service_id)
    }

    /// Where the service's servers commit their queries' positions (see `kafka::offsets`).
    pub fn offsets_topic(&self) -> String {
        format!("_confluent-ksql-{}_brooklet_offsets", self.service_id)
    }
}

/// The user name and password of a `sasl.jaas.config` using Kafka's PLAIN or SCRAM login
/// module: `org.apache.kafka.common.security.plain.PlainLoginModule required username="u"
/// password="p";`.
fn jaas_credentials(jaas: &str) -> Result<(String, String), String> {
    if !jaas.contains("PlainLoginModule") && !jaas.contains("ScramLoginModule") {
        return Err(format!(
            "sasl.jaas.config: only the PLAIN and SCRAM login modules can be used, not {}",
            jaas.split_whitespace().next().unwrap_or("an empty one")
        ));
    }
    let field = |name: &str| -> Option<String> {
        let at = jaas.find(&format!("{name}="))? + name.len() + 1;
        let rest = jaas[at..].strip_prefix('"')?;
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return Some(out),
                c => out.push(c),
            }
        }
        None
    };
    match (field("username"), field("password")) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err("sasl.jaas.config: expected username=\"...\" and password=\"...\"".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_cluster_without_flag_or_bootstrap() {
        assert_eq!(KafkaConfig::from_settings(None, &settings(&[])), Ok(None));
    }

    #[test]
    fn reads_ksqldb_server_properties() {
        let s = settings(&[
            ("bootstrap.servers", "b1:9092,b2:9092"),
            ("ksql.service.id", "orders_"),
            ("ksql.streams.security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="p\"w";"#,
            ),
            ("ssl.ca.location", "/etc/ca.pem"),
            ("brooklet.kafka.linger.ms", "2"),
            ("brooklet.kafka.replicas", "3"),
            ("unrelated", "x"),
        ]);
        let c = KafkaConfig::from_settings(None, &s).unwrap().unwrap();
        assert_eq!(c.bootstrap, "b1:9092,b2:9092");
        assert_eq!(c.service_id, "orders_");
        assert_eq!(c.replicas, 3);
        assert_eq!(c.session_timeout_ms, 10_000);
        assert!(!c.exactly_once);
        assert_eq!(c.leader_group(), "_confluent-ksql-orders__brooklet_leader");
        assert_eq!(c.command_topic(), "_confluent-ksql-orders__command_topic");
        let want = settings(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "PLAIN"),
            ("sasl.username", "alice"),
            ("sasl.password", "p\"w"),
            ("ssl.ca.location", "/etc/ca.pem"),
            ("linger.ms", "2"),
        ]);
        assert_eq!(c.client, want);
    }

    #[test]
    fn the_flag_wins_and_the_default_service_is_ksqldbs() {
        let s = settings(&[("bootstrap.servers", "elsewhere:1")]);
        let c = KafkaConfig::from_settings(Some("here:9092"), &s)
            .unwrap()
            .unwrap();
        assert_eq!(c.bootstrap, "here:9092");
        assert_eq!(c.command_topic(), "_confluent-ksql-default__command_topic");
    }

    #[test]
    fn refuses_what_librdkafka_cannot_use() {
        let jks = settings(&[("ssl.truststore.location", "/x.jks")]);
        let err = KafkaConfig::from_settings(Some("b:1"), &jks).unwrap_err();
        assert!(err.contains("ssl.ca.location"), "{err}");
        let kerberos = settings(&[(
            "sasl.jaas.config",
            "com.sun.security.auth.module.Krb5LoginModule required;",
        )]);
        assert!(KafkaConfig::from_settings(Some("b:1"), &kerberos).is_err());
        let bad = settings(&[("brooklet.kafka.replicas", "0")]);
        assert!(KafkaConfig::from_settings(Some("b:1"), &bad).is_err());
        let eos = settings(&[("ksql.streams.processing.guarantee", "exactly_once_v2")]);
        let c = KafkaConfig::from_settings(Some("b:1"), &eos)
            .unwrap()
            .unwrap();
        assert!(c.exactly_once);
        let bad = settings(&[("processing.guarantee", "twice")]);
        assert!(KafkaConfig::from_settings(Some("b:1"), &bad).is_err());
        let bad = settings(&[("brooklet.kafka.session.timeout.ms", "10")]);
        assert!(KafkaConfig::from_settings(Some("b:1"), &bad).is_err());
    }
}
