//! ksqlDB's function library. Functions are DataFusion UDFs (one file per family) or
//! DataFusion's own functions where their semantics match ksqlDB's; [`register`] installs ours
//! over DataFusion's defaults, replacing any of the same name.

mod bytes;
#[cfg(test)]
mod cases;
pub mod cast;
mod collections;
mod compare;
mod dates;
pub mod datetime;
pub mod decimal;
mod delegate;
mod geo;
mod json;
mod lambda;
mod lists;
mod membership;
mod numbers;
mod regex;
pub mod row;
mod string;
pub mod table;
mod text;
pub mod udaf;
mod web;

use datafusion::execution::session_state::SessionState;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::ScalarUDF;
use std::sync::Arc;

/// ksqlDB's functions that DataFusion lacks or defines differently.
pub fn udfs() -> Vec<ScalarUDF> {
    let mut all = string::udfs();
    all.extend(text::udfs());
    all.extend(datetime::udfs());
    all.extend(dates::udfs());
    all.extend(json::udfs());
    all.extend(regex::udfs());
    all.extend(bytes::udfs());
    all.extend(geo::udfs());
    all.extend(collections::udfs());
    all.extend(lambda::udfs());
    all.extend(table::udfs());
    all.extend(lists::udfs());
    all.extend(membership::udfs());
    all.extend(web::udfs());
    all.extend(compare::udfs());
    all.extend(numbers::udfs());
    all.push(cast::cast_as_udf());
    all
}

/// Functions Brooklet calls on the user's behalf, not listed as the user's.
const INTERNAL: &[&str] = &["KSQL_CAST_AS", "KSQL_MAP", "KSQL_TRIM"];

/// Installs ksqlDB's functions into a session.
pub fn register(state: &mut SessionState) -> datafusion::error::Result<()> {
    for udf in udfs() {
        state.register_udf(Arc::new(udf))?;
    }
    Ok(())
}

/// Every function queries can call: (name, SCALAR / AGGREGATE / TABLE), by name.
pub fn catalog() -> Vec<(String, &'static str)> {
    let mut all: Vec<(String, &'static str)> = names()
        .into_iter()
        .filter(|n| !table::NAMES.contains(&n.to_lowercase().as_str()))
        .map(|n| (n, "SCALAR"))
        .collect();
    all.extend(
        crate::plan::aggregate::AGGREGATES
            .iter()
            .map(|n| (n.to_string(), "AGGREGATE")),
    );
    all.extend(table::NAMES.iter().map(|n| (n.to_uppercase(), "TABLE")));
    all.sort();
    all.dedup_by(|a, b| a.0 == b.0);
    all
}

/// What DESCRIBE FUNCTION shows: the function's type and its variations (arguments, result).
pub struct Description {
    pub name: String,
    pub kind: &'static str,
    pub variations: Vec<(String, String)>,
}

pub fn describe(name: &str) -> Option<Description> {
    let upper = name.to_uppercase();
    let (_, kind) = catalog().into_iter().find(|(n, _)| *n == upper)?;
    let lower = upper.to_lowercase();
    let ours = udfs().into_iter().find(|u| u.name() == lower);
    let theirs = || {
        datafusion::functions::all_default_functions()
            .into_iter()
            .chain(datafusion::functions_nested::all_default_nested_functions())
            .find(|u| u.name() == lower || u.aliases().contains(&lower))
    };
    let variations = match &ours {
        Some(u) => match u.inner().downcast_ref::<row::RowFunction>() {
            Some(r) => r.variations(),
            None => lambda::variations(&lower),
        },
        None => theirs()
            .map(|u| {
                u.signature()
                    .type_signature
                    .to_string_repr()
                    .into_iter()
                    .map(|args| {
                        (
                            format!("{upper}({args})"),
                            "depends on the arguments".into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    Some(Description {
        name: upper,
        kind,
        variations,
    })
}

/// Names of the scalar functions available to queries.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = datafusion::functions::all_default_functions()
        .iter()
        .chain(datafusion::functions_nested::all_default_nested_functions().iter())
        .cloned()
        .chain(udfs().into_iter().map(Arc::new))
        .flat_map(|f| {
            let mut all = vec![f.name().to_uppercase()];
            all.extend(f.aliases().iter().map(|a| a.to_uppercase()));
            all
        })
        .collect();
    names.retain(|n| !INTERNAL.contains(&n.as_str()));
    names.sort();
    names.dedup();
    names
}
