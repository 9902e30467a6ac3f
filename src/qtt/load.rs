//! Loading QTT files: lenient JSON (comments allowed, unknown keys ignored, numbers exact) and
//! the expansion of each case into its `format` × `config` variants.

use serde_json::Value;
use std::path::Path;

/// One runnable variant of a test case.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: String,
    /// `<file> - <case>[ - <FORMAT>][ - prop=value]`
    pub name: String,
    pub statements: Vec<String>,
    pub inputs: Vec<Value>,
    pub outputs: Option<Vec<Value>>,
    pub expected_exception: Option<Value>,
    pub properties: Vec<(String, String)>,
    pub topics: Vec<Value>,
    pub post: Option<Value>,
    /// A REST case (ksqlDB's rest-query-validation-tests): the responses expected of its
    /// statements over HTTP, or the error one of them gets.
    pub rest: Option<RestExpectation>,
    /// Why the variant is not run, if it is not.
    pub skip: Option<String>,
}

/// What a REST case expects: one entry per entity `/ksql` returns or query `/query` runs
/// (`{"admin": {...}}`, `{"query": [...]}`), or `expectedError`.
#[derive(Debug, Clone)]
pub struct RestExpectation {
    pub responses: Vec<Value>,
    pub error: Option<Value>,
    /// `inputConditions.waitForActivePushQuery`: the push query starts before the inputs.
    pub inputs_after_query: bool,
}

/// Removes `//` and `/* */` comments outside string literals.
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Functions that exist only in ksqlDB's test function registry.
/// Those not implemented yet (`qtt::udfs` has the scalar and table ones, `qtt::udafs` the
/// aggregates).
const TEST_ONLY_FUNCTIONS: &[&str] = &["OBJ_COL_ARG"];

/// The test-only function a statement calls, if any.
fn test_only_function(statement: &str) -> Option<&'static str> {
    let up = statement.to_uppercase();
    TEST_ONLY_FUNCTIONS.iter().copied().find(|f| {
        up.match_indices(f).any(|(i, _)| {
            let before = up[..i].chars().next_back();
            let after = up[i + f.len()..].trim_start().chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && after == Some('(')
        })
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Loads every case variant of one file.
pub fn load_file(path: &Path) -> Result<Vec<Case>, String> {
    let raw = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    load_text(&file, &raw).map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads every case variant of the text of a QTT file named `file`.
pub fn load_text(file: &str, raw: &str) -> Result<Vec<Case>, String> {
    let doc: Value = serde_json::from_str(&strip_comments(raw)).map_err(|e| e.to_string())?;
    let tests = doc["tests"]
        .as_array()
        .ok_or_else(|| "no \"tests\" array".to_string())?;
    let mut cases = Vec::new();
    for t in tests {
        let base = format!("{file} - {}", t["name"].as_str().unwrap_or("?"));
        let statements: Vec<String> = t["statements"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        let properties: Vec<(String, String)> = t["properties"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default();
        let formats: Vec<Option<String>> = match t["format"].as_array() {
            Some(f) => f.iter().map(|v| Some(text(v))).collect(),
            None => vec![None],
        };
        let configs: Vec<Option<String>> = match t["config"].as_array() {
            Some(c) => c.iter().map(|v| Some(text(v))).collect(),
            None => vec![None],
        };
        for format in &formats {
            for config in &configs {
                let mut name = base.clone();
                let mut props = properties.clone();
                if let Some(f) = format {
                    name.push_str(&format!(" - {f}"));
                }
                if let Some(c) = config {
                    if let Some(p) = props.iter_mut().find(|(_, v)| v == "{CONFIG}") {
                        name.push_str(&format!(" - {}={c}", p.0));
                        p.1 = c.clone();
                    }
                }
                let subst = |s: &str| match format {
                    Some(f) => s.replace("{FORMAT}", f),
                    None => s.to_string(),
                };
                let statements: Vec<String> = statements.iter().map(|s| subst(s)).collect();
                let topics: Vec<Value> = t["topics"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| {
                                serde_json::from_str(&subst(&v.to_string())).unwrap_or(v.clone())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let skip = if t["enabled"] == Value::Bool(false) {
                    Some("disabled".to_string())
                } else {
                    statements
                        .iter()
                        .find_map(|s| test_only_function(s))
                        .map(|f| format!("uses {f}, a function of ksqlDB's test registry"))
                };
                cases.push(Case {
                    file: file.to_string(),
                    name,
                    statements,
                    inputs: t["inputs"].as_array().cloned().unwrap_or_default(),
                    outputs: t["outputs"].as_array().cloned(),
                    expected_exception: t.get("expectedException").cloned(),
                    properties: props,
                    topics,
                    post: t.get("post").cloned(),
                    rest: (t.get("responses").is_some() || t.get("expectedError").is_some()).then(
                        || RestExpectation {
                            responses: t["responses"].as_array().cloned().unwrap_or_default(),
                            error: t.get("expectedError").cloned(),
                            inputs_after_query: t["inputConditions"]["waitForActivePushQuery"]
                                == Value::Bool(true),
                        },
                    ),
                    skip,
                });
            }
        }
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_outside_strings_are_removed() {
        let s = strip_comments("{\"a\": \"x//y\", // c\n \"b\": /* z */ 1}");
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a"], "x//y");
        assert_eq!(v["b"], 1);
    }
}
