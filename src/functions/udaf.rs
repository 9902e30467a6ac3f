//! User-defined aggregate functions (ksqlDB's UDAFs): aggregates beyond the built-in ones
//! (`plan::aggregate::AggKind`), given to an engine through `EngineConfig::aggregates`. A
//! [`UserAggregate`] resolves each call from its argument types, as ksqlDB picks a
//! `@UdafFactory`; the resulting [`UdafInstance`] holds the factory's initial arguments and
//! folds rows into one state value per group, as ksqlDB's `Udaf` / `TableUdaf` do.

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use datafusion::common::ScalarValue;
use std::fmt::Debug;
use std::sync::Arc;

/// A named aggregate with its overloads.
pub trait UserAggregate: Send + Sync + Debug {
    /// The name queries call it by (upper case).
    fn name(&self) -> &str;
    /// The overload for a call with arguments of `types`; `literals` holds the value of
    /// each argument that is a literal. Refuses arguments no overload accepts.
    fn resolve(
        &self,
        types: &[SqlType],
        literals: &[Option<ScalarValue>],
    ) -> Result<Arc<dyn UdafInstance>>;
}

/// One resolved call: its leading [`columns`](Self::columns) arguments are aggregated per
/// row; the rest were its factory's initial arguments.
pub trait UdafInstance: Send + Sync + Debug {
    fn columns(&self) -> usize;
    /// The type of the state it keeps per group.
    fn state_type(&self) -> SqlType;
    fn result_type(&self) -> SqlType;
    fn initialize(&self) -> ScalarValue;
    fn aggregate(&self, args: &[ScalarValue], state: ScalarValue) -> Result<ScalarValue>;
    /// Retracts a row (a `TableUdaf`); `None` when the aggregate cannot, which refuses it
    /// over a table.
    fn undo(&self, _args: &[ScalarValue], _state: ScalarValue) -> Option<Result<ScalarValue>> {
        None
    }
    fn undoable(&self) -> bool {
        false
    }
    fn merge(&self, a: ScalarValue, b: ScalarValue) -> Result<ScalarValue>;
    /// The result for a state.
    fn map(&self, state: &ScalarValue) -> Result<ScalarValue>;
}

/// ksqlDB's error for arguments no overload takes.
pub fn refused(name: &str, types: &[SqlType]) -> Error {
    let list: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    Error::statement(format!(
        "Function '{name}' does not accept parameters ({}).",
        list.join(", ")
    ))
}
