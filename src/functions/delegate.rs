//! DataFusion functions serving under ksqlDB's names, optionally behind ksqlDB's argument
//! checks: everything else is the DataFusion function's own.

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use std::sync::Arc;

/// Argument checks run before DataFusion's coercion: an error, coerced types, or `None` to let
/// DataFusion coerce.
pub type Check = fn(name: &str, args: &[DataType]) -> Result<Option<Vec<DataType>>>;

#[derive(Debug)]
struct Delegate {
    name: &'static str,
    inner: Arc<ScalarUDF>,
    check: Option<Check>,
    signature: Signature,
}

/// `inner` under `name`, its arguments checked by `check` first when there is one.
pub fn delegate(name: &'static str, inner: Arc<ScalarUDF>, check: Option<Check>) -> ScalarUDF {
    let signature = match check {
        // Checked arguments: DataFusion asks this function to coerce them.
        Some(_) => Signature::user_defined(Volatility::Immutable),
        None => inner.signature().clone(),
    };
    ScalarUDF::from(Delegate {
        name,
        inner,
        check,
        signature,
    })
}

/// Told apart by name (one registry holds one function of a name).
impl PartialEq for Delegate {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Delegate {}
impl std::hash::Hash for Delegate {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Delegate {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if let Some(check) = self.check {
            if let Some(types) = check(self.name, args)? {
                return Ok(types);
            }
        }
        self.inner.inner().coerce_types(args)
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
}
