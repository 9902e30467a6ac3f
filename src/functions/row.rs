//! The one way Brooklet defines a function evaluated value by value: its accepted argument
//! lists (each argument a SQL type family, coerced as ksqlDB does), its result type, and a
//! function of one row's arguments. Used for functions whose work per value dwarfs the cost of
//! handling values one at a time (JSON, regular expressions, encodings, dates); a constant
//! call folds to a constant.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// What an argument accepts, and the type it is coerced to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arg {
    /// STRING.
    Str,
    /// INT (an INT or a narrower integer).
    Int,
    /// BIGINT (any integer).
    Long,
    /// DOUBLE (any number).
    Double,
    Bytes,
    Date,
    Time,
    Timestamp,
    /// Any type, as it is.
    Any,
    /// Any ARRAY, as it is.
    List,
}

impl Arg {
    fn coerce(self, t: &DataType) -> Option<DataType> {
        use DataType::*;
        let target = match self {
            Arg::Str => Utf8,
            Arg::Int => Int32,
            Arg::Long => Int64,
            Arg::Double => Float64,
            Arg::Bytes => Binary,
            Arg::Date => Date32,
            Arg::Time => Time32(TimeUnit::Millisecond),
            Arg::Timestamp => Timestamp(TimeUnit::Millisecond, None),
            Arg::Any => return Some(t.clone()),
            Arg::List => {
                return matches!(t, List(_) | LargeList(_) | FixedSizeList(..) | Null)
                    .then(|| t.clone())
            }
        };
        let fits = match (self, t) {
            (_, Null) => true,
            (Arg::Str, Utf8 | LargeUtf8 | Utf8View) => true,
            (Arg::Int, Int8 | Int16 | Int32) => true,
            (Arg::Long, t) => t.is_integer(),
            (Arg::Double, t) => t.is_numeric(),
            (Arg::Bytes, Binary | LargeBinary | BinaryView) => true,
            (Arg::Date, Date32) => true,
            (Arg::Time, Time32(_) | Time64(_)) => true,
            (Arg::Timestamp, Timestamp(_, _)) => true,
            _ => false,
        };
        fits.then_some(target)
    }
}

/// A function of one row's arguments (after coercion) to its value; `ret` is the result type.
pub type Eval = fn(&[ScalarValue], &DataType) -> Result<ScalarValue>;

#[derive(Debug)]
pub struct RowFunction {
    name: &'static str,
    /// The argument lists it accepts.
    forms: &'static [&'static [Arg]],
    returns: Returns,
    eval: Eval,
    signature: Signature,
    /// A table function: its value is a list, each element of which becomes a row.
    table: bool,
}

/// Functions are told apart by name (one registry holds one function of a name).
impl PartialEq for RowFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.forms == other.forms && self.signature == other.signature
    }
}

impl Eq for RowFunction {}

impl std::hash::Hash for RowFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.forms.hash(state);
    }
}

/// The result type of a row function, from its (coerced) argument types.
pub type Returns = fn(&[DataType]) -> DataType;

/// A row function. `forms` lists the argument lists it accepts.
pub fn row_function(
    name: &'static str,
    forms: &'static [&'static [Arg]],
    returns: Returns,
    eval: Eval,
) -> ScalarUDF {
    with_volatility(name, forms, returns, eval, Volatility::Immutable)
}

/// A row function whose value may change between calls with the same arguments (the time).
pub fn volatile_row_function(
    name: &'static str,
    forms: &'static [&'static [Arg]],
    returns: Returns,
    eval: Eval,
) -> ScalarUDF {
    with_volatility(name, forms, returns, eval, Volatility::Volatile)
}

/// A table function (ksqlDB's UDTF): a row function whose list value becomes a row per
/// element; `returns` gives the list's type.
pub fn table_row_function(
    name: &'static str,
    forms: &'static [&'static [Arg]],
    returns: Returns,
    eval: Eval,
) -> ScalarUDF {
    let mut f = RowFunction::new(name, forms, returns, eval, Volatility::Immutable);
    f.table = true;
    ScalarUDF::from(f)
}

fn with_volatility(
    name: &'static str,
    forms: &'static [&'static [Arg]],
    returns: Returns,
    eval: Eval,
    volatility: Volatility,
) -> ScalarUDF {
    ScalarUDF::from(RowFunction::new(name, forms, returns, eval, volatility))
}

impl Arg {
    /// How DESCRIBE FUNCTION shows the argument.
    fn describe(self) -> &'static str {
        match self {
            Arg::Str => "VARCHAR",
            Arg::Int => "INT",
            Arg::Long => "BIGINT",
            Arg::Double => "DOUBLE",
            Arg::Bytes => "BYTES",
            Arg::Date => "DATE",
            Arg::Time => "TIME",
            Arg::Timestamp => "TIMESTAMP",
            Arg::Any => "ANY",
            Arg::List => "ARRAY<T>",
        }
    }
}

impl RowFunction {
    fn new(
        name: &'static str,
        forms: &'static [&'static [Arg]],
        returns: Returns,
        eval: Eval,
        volatility: Volatility,
    ) -> Self {
        RowFunction {
            name,
            forms,
            returns,
            eval,
            signature: Signature::user_defined(volatility),
            table: false,
        }
    }

    /// Whether it is a table function (see [`table_row_function`]).
    pub fn is_table(&self) -> bool {
        self.table
    }

    /// Its variations: the arguments and what they return.
    pub fn variations(&self) -> Vec<(String, String)> {
        self.forms
            .iter()
            .map(|form| {
                let args: Vec<&str> = form.iter().map(|a| a.describe()).collect();
                let types: Vec<DataType> = form
                    .iter()
                    .map(|a| a.coerce(&DataType::Null).unwrap_or(DataType::Null))
                    .collect();
                let returns = if form.contains(&Arg::Any) || form.contains(&Arg::List) {
                    "depends on the arguments".to_string()
                } else {
                    sql_name(&(self.returns)(&types))
                };
                (
                    format!("{}({})", self.name.to_uppercase(), args.join(", ")),
                    returns,
                )
            })
            .collect()
    }
}

/// ksqlDB's spelling of an argument type in error messages.
fn sql_name(t: &DataType) -> String {
    crate::catalog::types::SqlType::from_arrow(t)
        .map(|s| s.to_string())
        .unwrap_or_else(|| match t {
            DataType::Null => "NULL".to_string(),
            other => other.to_string(),
        })
}

impl ScalarUDFImpl for RowFunction {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        for form in self.forms {
            if form.len() != args.len() {
                continue;
            }
            let coerced: Option<Vec<DataType>> =
                form.iter().zip(args).map(|(a, t)| a.coerce(t)).collect();
            if let Some(c) = coerced {
                return Ok(c);
            }
        }
        let names: Vec<String> = args.iter().map(sql_name).collect();
        plan_err!(
            "Function '{}' does not accept parameters ({}).",
            self.name,
            names.join(", ")
        )
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok((self.returns)(args))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ret = args.return_field.data_type().clone();
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        // One slot per argument: a literal's is set once; a column's is refilled per row,
        // reusing a string's buffer.
        let mut row: Vec<ScalarValue> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => s.clone(),
                ColumnarValue::Array(_) => ScalarValue::Null,
            })
            .collect();
        if all_scalar && self.signature.volatility != Volatility::Volatile {
            return Ok(ColumnarValue::Scalar(cast_to(
                (self.eval)(&row, &ret)?,
                &ret,
            )?));
        }
        let n = args.number_rows;
        let mut out = Output::new(&ret, n);
        for i in 0..n {
            for (slot, a) in row.iter_mut().zip(&args.args) {
                if let ColumnarValue::Array(a) = a {
                    refill(slot, a, i)?;
                }
            }
            out.push(cast_to((self.eval)(&row, &ret)?, &ret)?)?;
        }
        out.finish(&ret)
    }
}

/// `slot` set to `a`'s value at `i`; a string's buffer is kept and overwritten.
fn refill(slot: &mut ScalarValue, a: &ArrayRef, i: usize) -> Result<()> {
    use datafusion::arrow::array::{Array, AsArray};
    if let (ScalarValue::Utf8(Some(buf)), DataType::Utf8) = (&mut *slot, a.data_type()) {
        if a.is_valid(i) {
            buf.clear();
            buf.push_str(a.as_string::<i32>().value(i));
            return Ok(());
        }
    }
    *slot = ScalarValue::try_from_array(a, i)?;
    Ok(())
}

/// A row function's results: strings and common primitives straight into a builder, other
/// types collected and converted at the end.
enum Output {
    Text(datafusion::arrow::array::StringBuilder),
    Int(datafusion::arrow::array::Int32Builder),
    Long(datafusion::arrow::array::Int64Builder),
    Values(Vec<ScalarValue>),
}

impl Output {
    fn new(ret: &DataType, n: usize) -> Self {
        use datafusion::arrow::array::*;
        match ret {
            DataType::Utf8 => Output::Text(StringBuilder::with_capacity(n, n * 16)),
            DataType::Int32 => Output::Int(Int32Builder::with_capacity(n)),
            DataType::Int64 => Output::Long(Int64Builder::with_capacity(n)),
            _ => Output::Values(Vec::with_capacity(n)),
        }
    }

    fn push(&mut self, v: ScalarValue) -> Result<()> {
        match (self, v) {
            (Output::Text(b), ScalarValue::Utf8(v)) => b.append_option(v),
            (Output::Int(b), ScalarValue::Int32(v)) => b.append_option(v),
            (Output::Long(b), ScalarValue::Int64(v)) => b.append_option(v),
            (Output::Values(all), v) => all.push(v),
            (_, v) => return datafusion::common::exec_err!("a row function returned {v:?}"),
        }
        Ok(())
    }

    fn finish(self, ret: &DataType) -> Result<ColumnarValue> {
        let array: ArrayRef = match self {
            Output::Text(mut b) => std::sync::Arc::new(b.finish()),
            Output::Int(mut b) => std::sync::Arc::new(b.finish()),
            Output::Long(mut b) => std::sync::Arc::new(b.finish()),
            Output::Values(all) if all.is_empty() => datafusion::arrow::array::new_empty_array(ret),
            Output::Values(all) => ScalarValue::iter_to_array(all)?,
        };
        Ok(ColumnarValue::Array(array))
    }
}

/// A typed NULL for untyped ones, so every value of a column has the column's type.
fn cast_to(v: ScalarValue, ret: &DataType) -> Result<ScalarValue> {
    if v.is_null() {
        return ScalarValue::try_from(ret);
    }
    Ok(v)
}

/// The elements of an ARRAY argument (`None` when NULL or not an array).
pub fn list_items(v: &ScalarValue) -> Option<ArrayRef> {
    match v {
        ScalarValue::List(list) if !datafusion::arrow::array::Array::is_null(list.as_ref(), 0) => {
            Some(list.value(0))
        }
        _ => None,
    }
}

/// The string of a coerced STRING argument (`None` when NULL).
pub fn text(v: &ScalarValue) -> Option<&str> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.as_deref(),
        _ => None,
    }
}

/// The integer of a coerced INT or BIGINT argument.
pub fn int(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int32(i) => i.map(i64::from),
        ScalarValue::Int64(i) => *i,
        _ => None,
    }
}

/// The number of a coerced DOUBLE argument.
pub fn double(v: &ScalarValue) -> Option<f64> {
    match v {
        ScalarValue::Float64(f) => *f,
        _ => None,
    }
}

/// The bytes of a coerced BYTES argument.
pub fn bytes(v: &ScalarValue) -> Option<&[u8]> {
    match v {
        ScalarValue::Binary(b) | ScalarValue::LargeBinary(b) | ScalarValue::BinaryView(b) => {
            b.as_deref()
        }
        _ => None,
    }
}

pub fn string(s: Option<String>) -> ScalarValue {
    ScalarValue::Utf8(s)
}

/// `ARRAY<STRING>` as a result type.
pub fn string_list() -> DataType {
    DataType::List(std::sync::Arc::new(
        datafusion::arrow::datatypes::Field::new("item", DataType::Utf8, true),
    ))
}

/// An `ARRAY<STRING>` value.
pub fn strings(items: Option<Vec<Option<String>>>) -> ScalarValue {
    match items {
        None => ScalarValue::try_from(&string_list()).unwrap_or(ScalarValue::Null),
        Some(items) => {
            let values: Vec<ScalarValue> = items.into_iter().map(ScalarValue::Utf8).collect();
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Utf8))
        }
    }
}

/// A MAP value of type `ty` with these entries (in order).
pub fn map_scalar(entries: Vec<(ScalarValue, ScalarValue)>, ty: &DataType) -> Result<ScalarValue> {
    let (keys, values): (Vec<ScalarValue>, Vec<ScalarValue>) = entries.into_iter().unzip();
    let array = |items: Vec<ScalarValue>| -> Result<ArrayRef> {
        if items.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(&DataType::Null));
        }
        ScalarValue::iter_to_array(items)
    };
    map_from_arrays(ty, array(keys)?, array(values)?)
}

/// A MAP value of type `ty` whose entries are `keys` and `values`, in order.
pub fn map_from_arrays(ty: &DataType, keys: ArrayRef, values: ArrayRef) -> Result<ScalarValue> {
    use datafusion::arrow::array::{MapArray, StructArray};
    use datafusion::arrow::buffer::OffsetBuffer;
    use datafusion::arrow::compute::cast;
    let DataType::Map(field, sorted) = ty else {
        return datafusion::common::exec_err!("not a MAP type: {ty}");
    };
    let DataType::Struct(fields) = field.data_type() else {
        return datafusion::common::exec_err!("not a MAP type: {ty}");
    };
    let n = keys.len();
    let entries = StructArray::try_new(
        fields.clone(),
        vec![
            cast(&keys, fields[0].data_type())?,
            cast(&values, fields[1].data_type())?,
        ],
        None,
    )?;
    let map = MapArray::try_new(
        field.clone(),
        OffsetBuffer::from_lengths([n]),
        entries,
        None,
        *sorted,
    )?;
    ScalarValue::try_from_array(&map, 0)
}

/// An ARRAY value of type `ty` (an ARRAY type) holding `values`.
pub fn list_scalar(ty: &DataType, values: ArrayRef) -> Result<ScalarValue> {
    let DataType::List(field) = ty else {
        return datafusion::common::exec_err!("not an ARRAY type: {ty}");
    };
    let values = datafusion::arrow::compute::cast(&values, field.data_type())?;
    Ok(ScalarValue::List(std::sync::Arc::new(
        datafusion::arrow::array::ListArray::try_new(
            field.clone(),
            datafusion::arrow::buffer::OffsetBuffer::from_lengths([values.len()]),
            values,
            None,
        )?,
    )))
}

/// `MAP<K, V>` as a result type.
pub fn map_type(k: DataType, v: DataType) -> DataType {
    DataType::Map(
        std::sync::Arc::new(datafusion::arrow::datatypes::Field::new(
            "entries",
            DataType::Struct(
                vec![
                    datafusion::arrow::datatypes::Field::new("key", k, false),
                    datafusion::arrow::datatypes::Field::new("value", v, true),
                ]
                .into(),
            ),
            false,
        )),
        false,
    )
}

#[cfg(test)]
pub mod testing {
    //! Calls a function as a query would: parsed, planned and evaluated by DataFusion.
    use crate::plan::expr::ExprCompiler;
    use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
    use datafusion::arrow::datatypes::Schema;
    use std::sync::Arc;

    /// The value of a constant expression such as `LEN('abc')`, as ksqlDB's JSON would show it
    /// (`null` for NULL), or the planning error.
    pub fn eval(sql: &str) -> Result<String, String> {
        let c = ExprCompiler::new();
        let schema = Schema::empty();
        let e = ExprCompiler::normalize(
            &crate::sql::parse_expression(sql).map_err(|e| e.message)?,
            &[],
        );
        let p = c.compile(&e, &schema).map_err(|e| e.message)?;
        let batch = RecordBatch::try_new_with_options(
            Arc::new(schema),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )
        .map_err(|e| e.to_string())?;
        let out: ArrayRef = p
            .evaluate(&batch)
            .and_then(|v| v.into_array(1))
            .map_err(|e| e.to_string())?;
        let ty = crate::catalog::types::SqlType::from_arrow(out.data_type())
            .ok_or_else(|| format!("no SQL type for {}", out.data_type()))?;
        // As a query's projection does: the value in its column's type.
        let out =
            datafusion::arrow::compute::cast(&out, &ty.to_arrow()).map_err(|e| e.to_string())?;
        let mut text = Vec::new();
        crate::format::json::write_value(&out, 0, &ty, &mut text).map_err(|e| format!("{e:?}"))?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}
