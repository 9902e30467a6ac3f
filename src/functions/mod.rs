//! ksqlDB's function library. Functions are DataFusion UDFs or aliases of DataFusion
//! functions; this module lists what the expression compiler can call.

/// Names of the scalar functions available to queries.
pub fn names() -> Vec<String> {
    datafusion::functions::all_default_functions()
        .iter()
        .chain(datafusion::functions_nested::all_default_nested_functions().iter())
        .map(|f| f.name().to_uppercase())
        .collect()
}
