//! Runs the statement corpus in `grammar-tests/` (its README describes the format).

use brooklet::error::ErrorKind;
use brooklet::{Engine, EngineConfig, Session};
use std::path::PathBuf;

#[derive(Debug)]
enum Expect {
    Ok(String),
    Parse {
        line: u64,
        col: u64,
        text: Option<String>,
    },
    Setup,
    Statement(Option<String>),
}

struct Case {
    file: String,
    line: usize,
    expect: Expect,
    todo: bool,
    sql: String,
}

fn quoted(rest: &str) -> Option<String> {
    let s = rest.trim();
    (s.len() >= 2 && s.starts_with('"') && s.ends_with('"')).then(|| s[1..s.len() - 1].to_string())
}

fn parse_header(h: &str) -> Expect {
    let words: Vec<&str> = h.split_whitespace().collect();
    match words.as_slice() {
        ["ok", kind] => Expect::Ok(kind.to_string()),
        ["setup"] => Expect::Setup,
        ["error", "parse", pos, ..] => {
            let (l, c) = pos.split_once(':').expect("L:C");
            let rest = h.splitn(4, ' ').nth(3).unwrap_or("");
            Expect::Parse {
                line: l.parse().unwrap(),
                col: c.parse().unwrap(),
                text: quoted(rest),
            }
        }
        ["error", "statement", ..] => {
            Expect::Statement(quoted(h.split_once("statement").unwrap().1))
        }
        _ => panic!("bad header: {h}"),
    }
}

fn load() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("grammar-tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let mut current: Option<Case> = None;
        for (i, line) in text.lines().enumerate() {
            if let Some(h) = line.strip_prefix("-- ").filter(|h| {
                ["ok ", "setup", "error ", "todo "]
                    .iter()
                    .any(|p| h.starts_with(p))
            }) {
                cases.extend(current.take());
                let (todo, h) = match h.strip_prefix("todo ") {
                    Some(rest) => (true, rest),
                    None => (false, h),
                };
                current = Some(Case {
                    file: name.clone(),
                    line: i + 1,
                    expect: parse_header(h),
                    todo,
                    sql: String::new(),
                });
            } else if let Some(c) = current.as_mut() {
                if !(c.sql.is_empty() && line.trim().is_empty()) {
                    c.sql.push_str(line);
                    c.sql.push('\n');
                }
            }
        }
        cases.extend(current.take());
    }
    cases
}

/// Checks one case; `Err` says how it differs from its expectation.
fn check(case: &Case, engine: &Engine, session: &mut Session) -> Result<(), String> {
    let parsed = brooklet::sql::parse(&case.sql);
    match &case.expect {
        Expect::Ok(kind) => {
            let p = parsed.map_err(|e| format!("does not parse: {e}"))?;
            if p.len() != 1 {
                return Err(format!("{} statements", p.len()));
            }
            let stmt = &p[0].statement;
            if stmt.kind_name() != kind {
                return Err(format!("parsed as {}", stmt.kind_name()));
            }
            let printed = stmt.to_string();
            let again = brooklet::sql::parse(&printed)
                .map_err(|e| format!("printed form does not parse: {printed}: {e}"))?;
            if again.len() != 1 || &again[0].statement != stmt {
                return Err(format!("does not round-trip: {printed}"));
            }
            Ok(())
        }
        Expect::Parse { line, col, text } => match parsed {
            Ok(_) => Err("parses".into()),
            Err(e) if e.kind != ErrorKind::Parse => Err(format!("not a parse error: {e}")),
            Err(e) => {
                let pos = format!("line {line}:{col}:");
                if !e.message.starts_with(&pos) {
                    return Err(format!("error at the wrong place: {}", e.message));
                }
                match text {
                    Some(t) if !e.message.contains(t.as_str()) => {
                        Err(format!("message differs: {}", e.message))
                    }
                    _ => Ok(()),
                }
            }
        },
        Expect::Setup => {
            engine
                .execute(&case.sql, session)
                .map_err(|e| format!("setup failed: {e}"))?;
            Ok(())
        }
        Expect::Statement(text) => {
            parsed.map_err(|e| format!("does not parse: {e}"))?;
            match engine.execute(&case.sql, session) {
                Ok(_) => Err("succeeds".into()),
                Err(e) if e.kind == ErrorKind::Parse || e.kind == ErrorKind::Runtime => {
                    Err(format!("wrong kind: {e}"))
                }
                Err(e) => match text {
                    Some(t) if !e.message.contains(t.as_str()) => {
                        Err(format!("message differs: {}", e.message))
                    }
                    _ => Ok(()),
                },
            }
        }
    }
}

#[test]
fn grammar_corpus() {
    let cases = load();
    assert!(cases.len() > 80, "corpus too small: {}", cases.len());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let mut failures = Vec::new();
    let mut todo = 0;
    let mut engines: std::collections::HashMap<String, (std::sync::Arc<Engine>, Session)> =
        Default::default();
    for case in &cases {
        let (engine, session) = engines.entry(case.file.clone()).or_insert_with(|| {
            (
                Engine::in_memory(EngineConfig::default()).unwrap(),
                Session::default(),
            )
        });
        let result = check(case, engine, session);
        match (case.todo, result) {
            (false, Err(why)) => failures.push(format!(
                "{}:{}: {why}\n    {}",
                case.file,
                case.line,
                case.sql.trim()
            )),
            (true, Ok(())) => failures.push(format!(
                "{}:{}: now passes: remove its 'todo'",
                case.file, case.line
            )),
            (true, Err(_)) => todo += 1,
            (false, Ok(())) => {}
        }
    }
    eprintln!("grammar-tests: {} cases, {} still to do", cases.len(), todo);
    assert!(
        failures.is_empty(),
        "{} grammar cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// No input makes the parser panic: every prefix of every corpus statement, and of every QTT
/// statement, parses or fails with an error.
#[test]
fn parser_never_panics_on_truncated_statements() {
    let corpus: Vec<String> = load().into_iter().map(|c| c.sql).collect();
    let mut statements = Vec::new();
    let qtt = match std::env::var_os("BROOKLET_QTT_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/qtt"),
    };
    for f in brooklet::qtt::files(&[qtt]).unwrap_or_default() {
        for case in brooklet::qtt::load::load_file(&f).unwrap_or_default() {
            statements.extend(case.statements);
        }
    }
    assert!(
        statements.len() > 500,
        "too few statements: {}",
        statements.len()
    );
    let mut checked = 0;
    // Every prefix of every statement.
    for s in corpus.iter().chain(statements.iter()) {
        for (i, _) in s.char_indices() {
            let prefix = &s[..i];
            let outcome = std::panic::catch_unwind(|| brooklet::sql::parse(prefix).map(|_| ()));
            assert!(outcome.is_ok(), "the parser panicked on: {prefix}");
            checked += 1;
        }
    }
    eprintln!("parsed {checked} prefixes without a panic");
}
