//! ksqlDB's function library. Functions are DataFusion UDFs (one file per family) or
//! DataFusion's own functions where their semantics match ksqlDB's; [`register`] installs ours
//! over DataFusion's defaults, replacing any of the same name.

mod bytes;
mod collections;
mod dates;
pub mod datetime;
mod geo;
mod json;
mod lambda;
mod regex;
pub mod row;
mod string;
pub mod table;
mod text;

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
    all
}

/// Installs ksqlDB's functions into a session.
pub fn register(state: &mut SessionState) -> datafusion::error::Result<()> {
    for udf in udfs() {
        state.register_udf(Arc::new(udf))?;
    }
    Ok(())
}

/// Names of the scalar functions available to queries.
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = datafusion::functions::all_default_functions()
        .iter()
        .chain(datafusion::functions_nested::all_default_nested_functions().iter())
        .map(|f| f.name().to_uppercase())
        .chain(udfs().iter().map(|f| f.name().to_uppercase()))
        .collect();
    names.sort();
    names.dedup();
    names
}
