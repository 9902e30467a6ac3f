//! String functions whose ksqlDB semantics differ from DataFusion's.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(Pad::new(true)),
        ScalarUDF::from(Pad::new(false)),
        datafusion::functions::string::upper()
            .as_ref()
            .clone()
            .with_aliases(["ucase"]),
        datafusion::functions::string::lower()
            .as_ref()
            .clone()
            .with_aliases(["lcase"]),
        ScalarUDF::from(Replace {
            signature: Signature::exact(
                vec![DataType::Utf8, DataType::Utf8, DataType::Utf8],
                Volatility::Immutable,
            ),
        }),
        ScalarUDF::from(AsValue {
            signature: Signature::any(1, Volatility::Immutable),
        }),
    ]
}

/// `AS_VALUE(col)`: the column's value, as a value column (used to copy a key into the value).
#[derive(Debug, PartialEq, Eq, Hash)]
struct AsValue {
    signature: Signature,
}

impl ScalarUDFImpl for AsValue {
    fn name(&self) -> &str {
        "as_value"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args[0].clone())
    }
}

/// `REPLACE(s, target, replacement)`: every occurrence of `target` replaced, as Java's
/// `String.replace` does it (an empty target matches between every two characters). NULL when
/// any argument is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Replace {
    signature: Signature,
}

impl ScalarUDFImpl for Replace {
    fn name(&self) -> &str {
        "replace"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (s, target, with) = (
            arrays[0].as_string::<i32>(),
            arrays[1].as_string::<i32>(),
            arrays[2].as_string::<i32>(),
        );
        let mut out = StringBuilder::with_capacity(s.len(), s.value_data().len());
        for i in 0..s.len() {
            if s.is_null(i) || target.is_null(i) || with.is_null(i) {
                out.append_null();
            } else {
                out.append_value(s.value(i).replace(target.value(i), with.value(i)));
            }
        }
        let result: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(result))
    }
}

/// `LPAD(s, len, pad)` / `RPAD(s, len, pad)`: pads `s` to `len` characters with `pad` repeated
/// (or truncates it to `len`). NULL when any argument is NULL, `len` is negative, or `pad` is
/// empty.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Pad {
    left: bool,
    signature: Signature,
}

impl Pad {
    fn new(left: bool) -> Self {
        Pad {
            left,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn pad(s: &str, len: usize, fill: &str, left: bool) -> String {
    let chars = s.chars().count();
    if len <= chars {
        return s.chars().take(len).collect();
    }
    let padding: String = fill.chars().cycle().take(len - chars).collect();
    if left {
        padding + s
    } else {
        format!("{s}{padding}")
    }
}

impl ScalarUDFImpl for Pad {
    fn name(&self) -> &str {
        if self.left {
            "lpad"
        } else {
            "rpad"
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return plan_err!(
                "{} takes 3 arguments: (STRING, INT, STRING)",
                self.name().to_uppercase()
            );
        }
        Ok(vec![DataType::Utf8, DataType::Int64, DataType::Utf8])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let s = cast(&arrays[0], &DataType::Utf8)?;
        let n = cast(&arrays[1], &DataType::Int64)?;
        let f = cast(&arrays[2], &DataType::Utf8)?;
        let (s, n, f) = (
            s.as_string::<i32>(),
            n.as_primitive::<Int64Type>(),
            f.as_string::<i32>(),
        );
        let mut out = StringBuilder::with_capacity(s.len(), s.len() * 8);
        for i in 0..s.len() {
            if s.is_null(i)
                || n.is_null(i)
                || f.is_null(i)
                || n.value(i) < 0
                || f.value(i).is_empty()
            {
                out.append_null();
            } else {
                out.append_value(pad(s.value(i), n.value(i) as usize, f.value(i), self.left));
            }
        }
        let result: ArrayRef = Arc::new(out.finish());
        Ok(ColumnarValue::Array(result))
    }
}

#[cfg(test)]
mod tests {
    use super::pad;

    #[test]
    fn pads_and_truncates_like_ksql() {
        assert_eq!(pad("foo", 7, "Bar", true), "BarBfoo");
        assert_eq!(pad("foo", 5, "Bar", false), "fooBa");
        assert_eq!(pad("foo", 2, "Bar", true), "fo");
        assert_eq!(pad("", 7, "Bar", true), "BarBarB");
    }
}
