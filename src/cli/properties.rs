//! Settings from the command line: `--config FILE` (a Java properties file, as ksqlDB's
//! `ksql-server.properties`) and `--property NAME=VALUE` (repeatable, applied after the file).
//! These are the operator's settings: a request or a `SET` never changes the ones that guard
//! the server (`server::config`, `brooklet.connect.file.dirs`).

use std::collections::BTreeMap;

/// The properties of a Java properties file: `key=value`, `key: value` or `key value` lines,
/// `#` and `!` comments, a trailing `\` continuing a line.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            logical.push_str(head);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let split = entry.find(['=', ':', ' ', '\t']).unwrap_or(entry.len());
        let key = entry[..split].trim();
        let value = entry[split..]
            .trim_start_matches([' ', '\t'])
            .trim_start_matches(['=', ':'])
            .trim();
        if !key.is_empty() {
            out.insert(key.to_string(), value.to_string());
        }
    }
    out
}

/// The settings of `--config` (when given) overridden by each `--property`.
pub fn load(
    config: Option<&std::path::Path>,
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, String>, String> {
    let mut props = match config {
        Some(path) => parse(
            &std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?,
        ),
        None => BTreeMap::new(),
    };
    props.extend(overrides.iter().cloned());
    Ok(props)
}

/// `NAME=VALUE` of `--property`.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn java_properties() {
        let p = super::parse(
            "# a comment\n! another\nlisteners=http://0.0.0.0:8088\nksql.max.push.queries : 5\n\
             brooklet.connect.file.dirs /data, \\\n  /more\n\nempty=\n",
        );
        assert_eq!(p["listeners"], "http://0.0.0.0:8088");
        assert_eq!(p["ksql.max.push.queries"], "5");
        assert_eq!(p["brooklet.connect.file.dirs"], "/data, /more");
        assert_eq!(p["empty"], "");
        assert_eq!(p.len(), 4);
    }
}
