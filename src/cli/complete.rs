//! What the shell completes with Tab and hints as you type, from what the engine (or the
//! server) holds: statement keywords where a statement starts, the next keywords of a clause,
//! stream and table names after FROM, JOIN, INTO, DESCRIBE and DROP, query ids after
//! TERMINATE and EXPLAIN, the columns of the sources the statement names, function names,
//! and property names after SET. The hint is the signature of the function whose arguments
//! are being typed.
//!
//! The catalog is a [`Catalog`] snapshot the shell refreshes after each statement (from the
//! engine, or from the server with two requests), so a keystroke never waits on a lock the
//! engine holds, nor on the network.

use brooklet_repl::Assist;
use std::sync::{Arc, RwLock};

/// What completion knows of the catalog.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Streams and tables, with their column names.
    pub sources: Vec<(String, Vec<String>)>,
    /// Ids of the persistent queries.
    pub queries: Vec<String>,
}

impl Catalog {
    /// The embedded engine's catalog.
    pub fn of_engine(engine: &crate::engine::Engine) -> Catalog {
        Catalog {
            sources: engine
                .sources()
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.columns.iter().map(|c| c.name.clone()).collect(),
                    )
                })
                .collect(),
            queries: engine
                .query_states()
                .into_iter()
                .map(|(id, _)| id)
                .collect(),
        }
    }
}

/// Statements' first words.
const STATEMENTS: &[&str] = &[
    "CREATE",
    "SELECT",
    "INSERT INTO",
    "SHOW",
    "LIST",
    "DESCRIBE",
    "EXPLAIN",
    "DROP",
    "TERMINATE",
    "SET",
    "UNSET",
    "PRINT",
    "DEFINE",
    "UNDEFINE",
    "DELETE FROM",
];

/// What SHOW (and LIST) lists.
const SHOWN: &[&str] = &[
    "STREAMS",
    "TABLES",
    "QUERIES",
    "TOPICS",
    "PROPERTIES",
    "FUNCTIONS",
    "VARIABLES",
    "CONNECTORS",
];

/// Words that may follow another, where the grammar narrows them down.
const NEXT: &[(&str, &[&str])] = &[
    (
        "CREATE",
        &[
            "STREAM",
            "TABLE",
            "OR REPLACE",
            "SOURCE",
            "SINK CONNECTOR",
            "SOURCE CONNECTOR",
        ],
    ),
    ("SHOW", SHOWN),
    ("LIST", SHOWN),
    ("DROP", &["STREAM", "TABLE", "CONNECTOR"]),
    ("EMIT", &["CHANGES", "FINAL"]),
    ("WINDOW", &["TUMBLING", "HOPPING", "SESSION"]),
    ("GROUP", &["BY"]),
    ("PARTITION", &["BY"]),
    ("PRIMARY", &["KEY"]),
    ("GRACE", &["PERIOD"]),
];

/// Keywords anywhere else in a statement.
const KEYWORDS: &[&str] = &[
    "FROM",
    "WHERE",
    "GROUP BY",
    "PARTITION BY",
    "HAVING",
    "EMIT CHANGES",
    "EMIT FINAL",
    "WINDOW",
    "TUMBLING",
    "HOPPING",
    "SESSION",
    "SIZE",
    "ADVANCE BY",
    "GRACE PERIOD",
    "RETENTION",
    "JOIN",
    "LEFT JOIN",
    "RIGHT JOIN",
    "FULL OUTER JOIN",
    "INNER JOIN",
    "WITHIN",
    "ON",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IS NULL",
    "IS NOT NULL",
    "LIKE",
    "BETWEEN",
    "IN",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "LIMIT",
    "WITH",
    "KEY",
    "PRIMARY KEY",
    "HEADERS",
    "HEADER",
    "STREAM",
    "TABLE",
    "EXTENDED",
    "SECONDS",
    "MINUTES",
    "HOURS",
    "DAYS",
    "MILLISECONDS",
    "INT",
    "BIGINT",
    "DOUBLE",
    "BOOLEAN",
    "STRING",
    "VARCHAR",
    "DECIMAL",
    "TIMESTAMP",
    "DATE",
    "TIME",
    "BYTES",
    "ARRAY",
    "MAP",
    "STRUCT",
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "TIMESTAMP_FORMAT",
    "VALUES",
    "FROM BEGINNING",
    "DELETE TOPIC",
    "IF EXISTS",
    "IF NOT EXISTS",
];

/// Words after which a stream or table name comes.
const BEFORE_SOURCE: &[&str] = &["FROM", "JOIN", "INTO", "DESCRIBE", "STREAM", "TABLE"];

/// Properties a session may SET.
const PROPERTIES: &[&str] = &[
    "auto.offset.reset",
    "ksql.functions.collect_list.limit",
    "ksql.functions.collect_set.limit",
    "ksql.output.topic.name.prefix",
    "ksql.persistence.default.format.key",
    "ksql.persistence.default.format.value",
    "ksql.persistence.wrap.single.values",
    "ksql.timestamp.throw.on.invalid",
    "processing.guarantee",
    "brooklet.checkpoint.interval.ms",
    "brooklet.push.client.timeout.ms",
];

/// Completion over a catalog snapshot.
#[derive(Clone, Default)]
pub struct SqlAssist {
    catalog: Arc<RwLock<Catalog>>,
}

impl SqlAssist {
    /// Replaces the catalog completion works from.
    pub fn set(&self, catalog: Catalog) {
        if let Ok(mut c) = self.catalog.write() {
            *c = catalog;
        }
    }

    fn catalog(&self) -> Catalog {
        self.catalog.read().map(|c| c.clone()).unwrap_or_default()
    }
}

/// The word before the cursor: where it starts, and its text.
fn word_at(line: &str, pos: usize) -> (usize, &str) {
    let head = &line[..pos];
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.')
        .last()
        .map_or(pos, |(i, _)| i);
    (start, &head[start..])
}

/// The words of `text`, upper-cased, outside quotes and comments (a rough scan: enough to
/// find the previous keyword and the sources a statement names).
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' || c == '`' => quote = Some(c),
            None if c.is_alphanumeric() || c == '_' => word.push(c.to_ascii_uppercase()),
            None => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if c == '(' || c == ',' || c == ';' || c == '=' {
                    out.push(c.to_string());
                }
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `candidates` starting with `prefix` (ignoring case), written in the prefix's case.
fn matching(prefix: &str, candidates: impl IntoIterator<Item = String>) -> Vec<String> {
    let upper = prefix.to_uppercase();
    let lower = !prefix.is_empty() && prefix.chars().all(|c| !c.is_uppercase());
    let mut out: Vec<String> = candidates
        .into_iter()
        .filter(|c| c.to_uppercase().starts_with(&upper))
        .map(|c| if lower { c.to_lowercase() } else { c })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl SqlAssist {
    /// The completions of the word before `pos` in `line`, the statement's earlier lines
    /// being `before`.
    pub fn completions(&self, before: &str, line: &str, pos: usize) -> (usize, Vec<String>) {
        let (start, prefix) = word_at(line, pos);
        let typed = format!("{before}{}", &line[..start]);
        let all = words(&format!("{before}{line}"));
        let previous = words(&typed);
        let last = previous.last().map(String::as_str);
        let catalog = self.catalog();
        let sources = || catalog.sources.iter().map(|(n, _)| n.clone());
        // In a quoted property name after SET: the property names.
        if in_set_quote(&typed) {
            let names = PROPERTIES.iter().map(|p| p.to_string());
            return (start, names.filter(|p| p.starts_with(prefix)).collect());
        }
        let statement_start = previous.is_empty() || last == Some(";");
        let found = if statement_start {
            matching(prefix, STATEMENTS.iter().map(|s| s.to_string()))
        } else if let Some((_, next)) = NEXT.iter().find(|(w, _)| Some(*w) == last) {
            let mut words = matching(prefix, next.iter().map(|s| s.to_string()));
            if matches!(last, Some("DROP" | "CREATE")) {
                words.extend(matching(prefix, sources().filter(|_| last == Some("DROP"))));
            }
            words
        } else if matches!(last, Some("TERMINATE" | "EXPLAIN")) {
            let mut q = matching(prefix, catalog.queries.iter().cloned());
            if last == Some("EXPLAIN") {
                q.extend(matching(
                    prefix,
                    ["SELECT".into(), "CREATE".into(), "INSERT INTO".into()],
                ));
            }
            q
        } else if last.is_some_and(|l| BEFORE_SOURCE.contains(&l)) && !prefix.contains('.') {
            matching(prefix, sources())
        } else {
            // Columns of the sources the statement names, functions, keywords.
            let named: Vec<&(String, Vec<String>)> = catalog
                .sources
                .iter()
                .filter(|(n, _)| all.iter().any(|w| w == n))
                .collect();
            let columns = named.iter().flat_map(|(_, cols)| cols.iter().cloned());
            let mut found = matching(prefix, columns);
            let functions = crate::functions::catalog()
                .into_iter()
                .map(|(n, _)| format!("{n}("));
            found.extend(matching(prefix, functions));
            found.extend(matching(prefix, KEYWORDS.iter().map(|k| k.to_string())));
            found
        };
        // A unique keyword or name is followed by a space, as a shell does.
        let found = match found.as_slice() {
            [one] if !one.ends_with('(') => vec![format!("{one} ")],
            _ => found,
        };
        (start, found)
    }

    /// The signature of the function whose arguments the cursor is in.
    pub fn signature(&self, before: &str, line: &str, pos: usize) -> Option<String> {
        let text = format!("{before}{}", &line[..pos]);
        let name = open_call(&text)?;
        let d = crate::functions::describe(&name)?;
        let variations: Vec<String> = d
            .variations
            .iter()
            .take(4)
            .map(|(v, r)| format!("{v} → {r}"))
            .collect();
        let more = d.variations.len().saturating_sub(4);
        let shown = match (variations.is_empty(), more) {
            (true, _) => format!("{}(...) — {}", d.name, d.kind.to_string().to_lowercase()),
            (false, 0) => variations.join(" | "),
            (false, n) => format!(
                "{} | (+{n} more: DESCRIBE FUNCTION {})",
                variations.join(" | "),
                d.name
            ),
        };
        Some(format!("   -- {shown}"))
    }
}

/// How a candidate shows in the list of choices: a function with its first signature (and
/// how many more it has), anything else as it is.
fn shown(candidate: &str) -> String {
    let Some(name) = candidate.strip_suffix('(') else {
        return candidate.trim_end().to_string();
    };
    let Some(d) = crate::functions::describe(name) else {
        return candidate.to_string();
    };
    match d.variations.split_first() {
        Some(((v, r), [])) => format!("{v} → {r}"),
        Some(((v, r), more)) => format!("{v} → {r} (+{})", more.len()),
        None => format!("{}(...) {}", d.name, d.kind.to_string().to_lowercase()),
    }
}

/// Whether `typed` ends inside the quoted name of `SET '<name>`.
fn in_set_quote(typed: &str) -> bool {
    let trimmed = typed.trim_start();
    let set = trimmed
        .get(..3)
        .is_some_and(|h| h.eq_ignore_ascii_case("SET"));
    set && trimmed[3..]
        .trim_start()
        .strip_prefix('\'')
        .is_some_and(|name| !name.contains('\''))
}

/// The function whose call is open at the end of `text`: the word before the innermost `(`
/// not yet closed (outside quotes).
fn open_call(text: &str) -> Option<String> {
    let mut opens = Vec::new();
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' => quote = Some(c),
            None if c == '(' => opens.push(i),
            None if c == ')' => {
                opens.pop();
            }
            None => {}
        }
    }
    let at = *opens.last()?;
    let (_, name) = word_at(text, at);
    (!name.is_empty()).then(|| name.to_uppercase())
}

impl Assist for SqlAssist {
    fn complete(&self, before: &str, line: &str, pos: usize) -> (usize, Vec<(String, String)>) {
        let (start, words) = self.completions(before, line, pos);
        (start, words.into_iter().map(|w| (shown(&w), w)).collect())
    }

    fn hint(&self, before: &str, line: &str, pos: usize) -> Option<String> {
        self.signature(before, line, pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assist() -> SqlAssist {
        let a = SqlAssist::default();
        a.set(Catalog {
            sources: vec![
                (
                    "CLICKS".into(),
                    vec!["USER_ID".into(), "PAGE".into(), "MS".into()],
                ),
                (
                    "CLICKS_PER_MINUTE".into(),
                    vec!["USER_ID".into(), "CLICKS".into()],
                ),
                ("USERS".into(), vec!["ID".into(), "NAME".into()]),
            ],
            queries: vec!["CTAS_CLICKS_PER_MINUTE_0".into()],
        });
        a
    }

    fn complete(before: &str, line: &str) -> Vec<String> {
        assist().completions(before, line, line.len()).1
    }

    #[test]
    fn keywords_complete_in_their_context() {
        assert_eq!(complete("", "SEL"), ["SELECT "]);
        assert_eq!(complete("", "sh"), ["show "]);
        assert_eq!(complete("", "SHOW Q"), ["QUERIES "]);
        assert_eq!(complete("", "CREATE ST"), ["STREAM "]);
        assert_eq!(complete("", "SELECT * FROM clicks EMIT C"), ["CHANGES "]);
        assert_eq!(complete("", "SHOW STREAMS; DESC"), ["DESCRIBE "]);
    }

    #[test]
    fn sources_after_from_join_and_describe_and_queries_after_terminate() {
        assert_eq!(
            complete("", "SELECT * FROM CL"),
            ["CLICKS", "CLICKS_PER_MINUTE"]
        );
        assert_eq!(complete("", "select * from clicks c join us"), ["users "]);
        assert_eq!(complete("", "DESCRIBE U"), ["USERS "]);
        assert_eq!(complete("", "EXPLAIN CT"), ["CTAS_CLICKS_PER_MINUTE_0 "]);
        assert_eq!(complete("", "TERMINATE "), ["CTAS_CLICKS_PER_MINUTE_0 "]);
    }

    #[test]
    fn columns_of_the_named_sources_functions_and_keywords() {
        // The source comes later in the statement, on the next line.
        let (start, found) = assist().completions("", "SELECT pag FROM clicks", 10);
        assert_eq!((start, found), (7, vec!["page ".to_string()]));
        // Columns first, then functions, then keywords.
        let (_, found) = assist().completions("", "SELECT pa FROM clicks", 9);
        assert_eq!(found[0], "page");
        assert!(found.contains(&"parse_date(".to_string()), "{found:?}");
        assert!(found.contains(&"partition by".to_string()), "{found:?}");
        // Across lines: the earlier line names the source.
        assert_eq!(complete("SELECT *\nFROM users\n", "WHERE NA")[0], "NAME");
        // Columns of sources the statement does not name are not offered.
        assert!(!complete("", "SELECT * FROM users WHERE PA").contains(&"PAGE ".to_string()));
        let f = complete("", "SELECT SUBS");
        assert!(f.contains(&"SUBSTRING(".to_string()), "{f:?}");
        assert!(complete("", "SELECT * FROM clicks WH").contains(&"WHERE".to_string()));
    }

    #[test]
    fn functions_show_their_signature_in_the_list() {
        assert_eq!(shown("SUBSTRING("), "SUBSTRING(VARCHAR, INT) → STRING (+3)");
        assert_eq!(shown("COUNT("), "COUNT(...) aggregate");
        assert_eq!(shown("FROM "), "FROM");
        let (_, pairs) = Assist::complete(&assist(), "", "SELECT SUBSTRI", 14);
        let substring = (
            "SUBSTRING(VARCHAR, INT) → STRING (+3)".into(),
            "SUBSTRING(".into(),
        );
        assert!(pairs.contains(&substring), "{pairs:?}");
    }

    #[test]
    fn properties_after_set() {
        assert_eq!(
            assist().completions("", "SET 'auto", 9),
            (5, vec!["auto.offset.reset".to_string()])
        );
        let (_, all) = assist().completions("", "SET 'ksql.persistence.", 22);
        assert_eq!(all.len(), 3, "{all:?}");
    }

    #[test]
    fn the_hint_is_the_signature_of_the_open_call() {
        let a = assist();
        let hint = |t: &str| a.signature("", t, t.len());
        let h = hint("SELECT SUBSTRING(page, ").unwrap();
        assert!(h.contains("SUBSTRING(VARCHAR, INT, INT) → STRING"), "{h}");
        // The innermost open call, outside quotes.
        let h = hint("SELECT SUBSTRING(UCASE('(x'").unwrap();
        assert!(h.contains("UCASE("), "{h}");
        assert_eq!(hint("SELECT SUBSTRING(page, 1) FROM"), None);
        assert!(hint("SELECT COUNT(").unwrap().contains("aggregate"));
    }
}
