//! WITH-clause properties: which are allowed, their types, and the formats they imply.

use super::{Engine, Session};
use crate::error::{Error, Result};
use crate::format::{Format, FormatSpec};
use crate::sql::ast::{PropValue, Props};

/// Properties of every CREATE, with or without AS SELECT.
const SHARED_PROPS: &[&str] = &[
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "WRAP_SINGLE_VALUE",
    "VALUE_DELIMITER",
    "KEY_DELIMITER",
    "RETENTION_MS",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "KEY_SCHEMA_FULL_NAME",
    "VALUE_SCHEMA_FULL_NAME",
    "VALUE_AVRO_SCHEMA_FULL_NAME",
];
/// Properties only a CREATE over an existing topic takes.
const SOURCE_ONLY_PROPS: &[&str] = &[
    "WINDOW_TYPE",
    "WINDOW_SIZE",
    "KEY_PROTOBUF_NULLABLE_REPRESENTATION",
    "VALUE_PROTOBUF_NULLABLE_REPRESENTATION",
];
const INSERT_PROPS: &[&str] = &["QUERY_ID"];

pub enum PropsFor {
    Create,
    CreateAs,
    Insert,
}

pub struct With<'a> {
    props: &'a Props,
}

impl<'a> With<'a> {
    pub fn new(props: &'a Props, what: PropsFor) -> Result<Self> {
        let allowed = |k: &str| match what {
            PropsFor::Create => SHARED_PROPS.contains(&k) || SOURCE_ONLY_PROPS.contains(&k),
            PropsFor::CreateAs => SHARED_PROPS.contains(&k),
            PropsFor::Insert => INSERT_PROPS.contains(&k),
        };
        let unknown: Vec<&str> = props
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !allowed(k))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::statement(format!(
                "Invalid config variable(s) in the WITH clause: {}",
                unknown.join(",")
            )));
        }
        for (i, (k, _)) in props.iter().enumerate() {
            if props[..i].iter().any(|(k2, _)| k2 == k) {
                return Err(Error::statement(format!("Duplicate property: {k}")));
            }
        }
        Ok(With { props })
    }

    pub fn get(&self, name: &str) -> Option<&PropValue> {
        self.props.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(PropValue::as_text)
    }

    pub fn int(&self, name: &str) -> Result<Option<u32>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_text()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| {
                    Error::statement(format!("Invalid value for {name}: {}", v.as_text()))
                }),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(None),
            Some(PropValue::Bool(b)) => Ok(Some(*b)),
            Some(v) => match v.as_text().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                other => Err(Error::statement(format!(
                    "Invalid value for {name}: {other}"
                ))),
            },
        }
    }

    /// The key and value formats these properties ask for; `None` where they say nothing.
    pub fn formats(&self) -> Result<(Option<Format>, Option<Format>)> {
        let both = self.text("FORMAT");
        let key = self.text("KEY_FORMAT");
        let value = self.text("VALUE_FORMAT");
        if both.is_some() && key.is_some() {
            return Err(Error::statement("Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats.\nEither use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."));
        }
        if both.is_some() && value.is_some() {
            return Err(Error::statement("Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats.\nEither use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'."));
        }
        let parse = |s: Option<String>| s.map(|s| Format::parse(&s)).transpose();
        let both = parse(both)?;
        Ok((both.or(parse(key)?), both.or(parse(value)?)))
    }

    pub fn delimiter(&self, name: &str) -> Result<Option<char>> {
        let Some(d) = self.text(name) else {
            return Ok(None);
        };
        let c = match d.to_ascii_uppercase().as_str() {
            "TAB" | "\\T" => '\t',
            "SPACE" => ' ',
            _ => {
                let mut chars = d.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c,
                    _ => {
                        return Err(Error::statement(format!(
                            "Invalid delimiter value: '{d}'. Delimiter must be a single character or TAB or SPACE"
                        )))
                    }
                }
            }
        };
        Ok(Some(c))
    }

    /// The key and value formats, with defaults from the session or `inherit`.
    pub fn formats_or_defaults(
        &self,
        engine: &Engine,
        session: &Session,
        inherit: Option<(&FormatSpec, &FormatSpec)>,
    ) -> Result<(Format, Format)> {
        let (key, value) = self.formats()?;
        let key = match (key, inherit) {
            (Some(k), _) => k,
            (None, Some((k, _))) => k.format,
            (None, None) => match engine.property(session, "ksql.persistence.default.format.key") {
                Some(f) => Format::parse(&f)?,
                None => Format::Kafka,
            },
        };
        let value = match (value, inherit) {
            (Some(v), _) => v,
            (None, Some((_, v))) => v.format,
            (None, None) => match engine.property(session, "ksql.persistence.default.format.value") {
                Some(f) => Format::parse(&f)?,
                None => return Err(Error::statement("Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a default via the 'ksql.persistence.default.format.value' config.")),
            },
        };
        Ok((key, value))
    }

    /// Builds the key and value format specs, with defaults from the session or `inherit`.
    pub fn format_specs(
        &self,
        engine: &Engine,
        session: &Session,
        inherit: Option<(&FormatSpec, &FormatSpec)>,
        value_columns: usize,
    ) -> Result<(FormatSpec, FormatSpec)> {
        let (key, value) = self.formats_or_defaults(engine, session, inherit)?;
        let wrap = self.bool("WRAP_SINGLE_VALUE")?;
        if wrap.is_some() && value_columns != 1 {
            return Err(Error::statement(
                "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas",
            ));
        }
        // KAFKA and DELIMITED values are never wrapped: they support ksqlDB's UNWRAP_SINGLES
        // feature only, so `false` is accepted and `true` refused.
        if wrap == Some(true) && matches!(value, Format::Kafka | Format::Delimited | Format::None) {
            return Err(Error::statement(format!(
                "Format '{}' does not support 'WRAP_SINGLE_VALUE' set to 'true'.",
                value.name()
            )));
        }
        // PROTOBUF values are messages: single columns are always wrapped.
        if wrap == Some(false) && matches!(value, Format::Protobuf | Format::ProtobufNoSr) {
            return Err(Error::statement(format!(
                "Format '{}' does not support 'WRAP_SINGLE_VALUE' set to 'false'.",
                value.name()
            )));
        }
        let default_wrap = !matches!(
            engine
                .property(session, "ksql.persistence.wrap.single.values")
                .as_deref(),
            Some("false")
        );
        let mut value_spec = FormatSpec::new(value, wrap.unwrap_or(default_wrap));
        let mut key_spec = FormatSpec::new(key, false);
        if let Some(d) = self.delimiter("VALUE_DELIMITER")? {
            if value != Format::Delimited {
                return Err(Error::statement(
                    "VALUE_DELIMITER can only be used with VALUE_FORMAT='DELIMITED'",
                ));
            }
            value_spec.delimiter = d;
        } else if let Some((_, v)) = inherit.filter(|(_, v)| v.format == value) {
            value_spec.delimiter = v.delimiter;
        }
        if let Some(d) = self.delimiter("KEY_DELIMITER")? {
            if key != Format::Delimited {
                return Err(Error::statement(
                    "KEY_DELIMITER can only be used with KEY_FORMAT='DELIMITED'",
                ));
            }
            key_spec.delimiter = d;
        }
        Ok((key_spec, value_spec))
    }
}
