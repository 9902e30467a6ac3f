//! Running ksqlDB's query-validation tests (QTT): `brooklet qtt PATH...`.
//!
//! Each case variant runs on a fresh in-memory engine: its statements, its inputs produced to
//! their topics, then its outputs and `post` conditions checked (see `docs/` and
//! `../shared/docs/qtt-format.md` for the rules).

mod avro_spec;
mod case;
mod compare;
pub mod load;
mod post;
mod records;
mod rest;
mod schemas;
mod udafs;
mod udfs;

pub use case::{MessageMatch, Status};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The result of one case variant.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    pub status: Status,
    pub message: MessageMatch,
}

/// Every `.json` file under the given files and directories, sorted.
pub fn files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            found.sort();
            out.extend(found);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

/// Runs every case variant of `paths` whose name contains `filter`.
pub async fn run_paths(
    paths: &[PathBuf],
    filter: Option<&str>,
    timeout: Duration,
) -> Result<Vec<CaseResult>, String> {
    let mut results = Vec::new();
    for file in files(paths)? {
        results.extend(run_file(&file, filter, timeout).await?);
    }
    Ok(results)
}

pub async fn run_file(
    file: &Path,
    filter: Option<&str>,
    timeout: Duration,
) -> Result<Vec<CaseResult>, String> {
    let mut results = Vec::new();
    for c in load::load_file(file)? {
        if filter.is_some_and(|f| !c.name.contains(f)) {
            continue;
        }
        // Each case runs in its own task: a panic or a hang fails that case only.
        let task = tokio::spawn({
            let c = c.clone();
            async move { case::run(&c).await }
        });
        let (status, message) = match tokio::time::timeout(timeout, task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => (
                Status::Fail(format!("panicked: {e}")),
                MessageMatch::NotApplicable,
            ),
            Err(_) => (
                Status::Fail(format!("timed out after {timeout:?}")),
                MessageMatch::NotApplicable,
            ),
        };
        results.push(CaseResult {
            file: c.file.clone(),
            name: c.name.clone(),
            status,
            message,
        });
    }
    Ok(results)
}

/// `N passed, N failed, N skipped`.
pub fn summary(results: &[CaseResult]) -> String {
    let count = |f: fn(&Status) -> bool| results.iter().filter(|r| f(&r.status)).count();
    format!(
        "{} passed, {} failed, {} skipped",
        count(|s| *s == Status::Pass),
        count(|s| matches!(s, Status::Fail(_))),
        count(|s| matches!(s, Status::Skip(_)))
    )
}

/// The machine-readable report.
pub fn report_json(results: &[CaseResult]) -> serde_json::Value {
    serde_json::Value::Array(
        results
            .iter()
            .map(|r| {
                let (status, reason) = match &r.status {
                    Status::Pass => ("pass", None),
                    Status::Fail(w) => ("fail", Some(w.clone())),
                    Status::Skip(w) => ("skip", Some(w.clone())),
                };
                let message = match r.message {
                    MessageMatch::NotApplicable => None,
                    MessageMatch::Matched => Some(true),
                    MessageMatch::Differs => Some(false),
                };
                serde_json::json!({"file": r.file, "name": r.name, "status": status, "reason": reason, "messageMatched": message})
            })
            .collect(),
    )
}
