//! Functions that take lambdas: TRANSFORM, FILTER and REDUCE over arrays and maps. A lambda
//! reaches them as the literal `sql::lambda` makes of it; its body is compiled (once per body
//! and parameter types) against a schema of its parameters, and evaluated over all elements of
//! a batch at once (REDUCE, which threads a state, one element at a time).

use super::row::map_type;
use crate::plan::expr::{ExprCompiler, PhysExpr};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, ListArray, MapArray, RecordBatch, StructArray,
    UInt32Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub fn udfs() -> Vec<ScalarUDF> {
    [Kind::Transform, Kind::Filter, Kind::Reduce]
        .into_iter()
        .map(|kind| {
            ScalarUDF::from(LambdaFunction {
                kind,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

/// DESCRIBE FUNCTION's variations of a lambda function.
pub fn variations(name: &str) -> Vec<(String, String)> {
    let v = |s: &str, r: &str| (s.to_string(), r.to_string());
    match name {
        "transform" => vec![
            v("TRANSFORM(ARRAY<T>, x => U)", "ARRAY<U>"),
            v(
                "TRANSFORM(MAP<K, V>, (k, v) => K2, (k, v) => V2)",
                "MAP<K2, V2>",
            ),
        ],
        "filter" => vec![
            v("FILTER(ARRAY<T>, x => BOOLEAN)", "ARRAY<T>"),
            v("FILTER(MAP<K, V>, (k, v) => BOOLEAN)", "MAP<K, V>"),
        ],
        "reduce" => vec![
            v("REDUCE(ARRAY<T>, S, (s, x) => S)", "S"),
            v("REDUCE(MAP<K, V>, S, (s, k, v) => S)", "S"),
        ],
        _ => Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Transform,
    Filter,
    Reduce,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct LambdaFunction {
    kind: Kind,
    signature: Signature,
}

/// A compiled lambda: its body over a batch whose columns are its parameters.
struct Lambda {
    schema: Arc<Schema>,
    body: PhysExpr,
    ret: DataType,
}

impl Lambda {
    fn eval(&self, columns: Vec<ArrayRef>, rows: usize) -> Result<ArrayRef> {
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        self.body.evaluate(&batch)?.into_array(rows)
    }
}

/// The compiler lambda bodies share (building one registers every function).
fn compiler() -> &'static ExprCompiler {
    static COMPILER: OnceLock<ExprCompiler> = OnceLock::new();
    COMPILER.get_or_init(ExprCompiler::new)
}

type Cache = Mutex<HashMap<(String, Vec<DataType>), Arc<Lambda>>>;

/// The lambda `text` compiled for parameters of `types`.
fn lambda(text: &str, types: &[DataType]) -> Result<Arc<Lambda>> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (text.to_string(), types.to_vec());
    if let Some(l) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(l.clone());
    }
    let Some((params, body)) = crate::sql::lambda::parse_literal(text) else {
        return plan_err!("Expected a lambda, such as x => x + 1");
    };
    if params.len() != types.len() {
        return plan_err!(
            "The lambda takes {} parameters; it is given {}",
            params.len(),
            types.len()
        );
    }
    let schema = Arc::new(Schema::new(
        params
            .iter()
            .zip(types)
            .map(|(p, t)| Field::new(p, t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let expr = crate::sql::parse_expression(body)
        .map_err(|e| datafusion::error::DataFusionError::Plan(e.message))?;
    let body = compiler()
        .compile(&ExprCompiler::normalize(&expr, &[]), &schema)
        .map_err(|e| datafusion::error::DataFusionError::Plan(e.message))?;
    let ret = body.data_type(&schema)?;
    let compiled = Arc::new(Lambda { schema, body, ret });
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, compiled.clone());
    Ok(compiled)
}

fn list_field(t: DataType) -> FieldRef {
    Arc::new(Field::new("item", t, true))
}

/// An array's element type, or a map's key and value types.
enum Shape {
    List(DataType),
    Map(DataType, DataType),
}

fn shape(t: &DataType) -> Option<Shape> {
    match t {
        DataType::List(f) => Some(Shape::List(f.data_type().clone())),
        DataType::Map(f, _) => match f.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => Some(Shape::Map(
                kv[0].data_type().clone(),
                kv[1].data_type().clone(),
            )),
            _ => None,
        },
        _ => None,
    }
}

/// The lambda literal of argument `i`.
fn literal(scalars: &[Option<&ScalarValue>], i: usize) -> Result<String> {
    match scalars.get(i).copied().flatten() {
        Some(ScalarValue::Utf8(Some(s))) => Ok(s.clone()),
        _ => plan_err!("Expected a lambda, such as x => x + 1"),
    }
}

impl LambdaFunction {
    fn name_upper(&self) -> &'static str {
        match self.kind {
            Kind::Transform => "TRANSFORM",
            Kind::Filter => "FILTER",
            Kind::Reduce => "REDUCE",
        }
    }

    /// The result type, compiling the lambdas against the argument types.
    fn plan(&self, types: &[DataType], lambdas: &[String]) -> Result<DataType> {
        let Some(input) = types.first().and_then(shape) else {
            return plan_err!("{} needs an ARRAY or a MAP", self.name_upper());
        };
        Ok(match (self.kind, input, lambdas) {
            (Kind::Transform, Shape::List(e), [f]) => {
                DataType::List(list_field(lambda(f, &[e])?.ret.clone()))
            }
            (Kind::Transform, Shape::Map(k, v), [fk, fv]) => map_type(
                lambda(fk, &[k.clone(), v.clone()])?.ret.clone(),
                lambda(fv, &[k, v])?.ret.clone(),
            ),
            (Kind::Filter, Shape::List(e), [p]) => {
                lambda(p, &[e])?;
                types[0].clone()
            }
            (Kind::Filter, Shape::Map(k, v), [p]) => {
                lambda(p, &[k, v])?;
                types[0].clone()
            }
            (Kind::Reduce, Shape::List(e), [f]) => {
                lambda(f, &[types[1].clone(), e])?;
                types[1].clone()
            }
            (Kind::Reduce, Shape::Map(k, v), [f]) => {
                lambda(f, &[types[1].clone(), k, v])?;
                types[1].clone()
            }
            _ => {
                return plan_err!(
                    "{} takes an ARRAY and one lambda, or a MAP and {} lambda(s)",
                    self.name_upper(),
                    if self.kind == Kind::Transform { 2 } else { 1 }
                )
            }
        })
    }

    /// Where the lambdas are among the arguments.
    fn lambda_args(&self, n: usize) -> std::ops::Range<usize> {
        match self.kind {
            Kind::Reduce => 2..n,
            _ => 1..n,
        }
    }
}

impl ScalarUDFImpl for LambdaFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Transform => "transform",
            Kind::Filter => "filter",
            Kind::Reduce => "reduce",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let wanted = match self.kind {
            Kind::Transform => 2..=3,
            Kind::Filter => 2..=2,
            Kind::Reduce => 3..=3,
        };
        if !wanted.contains(&args.len()) {
            return plan_err!("Wrong number of arguments to {}", self.name_upper());
        }
        Ok(args.to_vec())
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        plan_err!("{} is planned with its lambdas", self.name_upper())
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let lambdas = self
            .lambda_args(types.len())
            .map(|i| literal(args.scalar_arguments, i))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(Field::new(
            self.name(),
            self.plan(&types, &lambdas)?,
            true,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let texts: Vec<String> = self
            .lambda_args(args.args.len())
            .map(|i| match &args.args[i] {
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => Ok(s.clone()),
                _ => exec_err!("Expected a lambda"),
            })
            .collect::<Result<_>>()?;
        let input = args.args[0].to_array(n)?;
        let ret = args.return_field.data_type().clone();
        let out = match (self.kind, input.data_type()) {
            (Kind::Transform, DataType::List(f)) => {
                let l = lambda(&texts[0], &[f.data_type().clone()])?;
                transform_list(input.as_list::<i32>(), &l, &ret)?
            }
            (Kind::Filter, DataType::List(f)) => {
                let l = lambda(&texts[0], &[f.data_type().clone()])?;
                filter_list(input.as_list::<i32>(), &l)?
            }
            (Kind::Transform, DataType::Map(..)) | (Kind::Filter, DataType::Map(..)) => {
                let map = input.as_map();
                let kv = [
                    map.keys().data_type().clone(),
                    map.values().data_type().clone(),
                ];
                let lambdas = texts
                    .iter()
                    .map(|t| lambda(t, &kv))
                    .collect::<Result<Vec<_>>>()?;
                if self.kind == Kind::Transform {
                    transform_map(map, &lambdas[0], &lambdas[1], &ret)?
                } else {
                    filter_map(map, &lambdas[0])?
                }
            }
            (Kind::Reduce, t) => {
                let init = args.args[1].to_array(n)?;
                let mut types = vec![init.data_type().clone()];
                match shape(t) {
                    Some(Shape::List(e)) => types.push(e),
                    Some(Shape::Map(k, v)) => types.extend([k, v]),
                    None => return exec_err!("REDUCE needs an ARRAY or a MAP"),
                }
                let l = lambda(&texts[0], &types)?;
                reduce(&input, &init, &l)?
            }
            (_, t) => return exec_err!("{} cannot take {t}", self.name_upper()),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// The elements of the non-null rows, and offsets starting at 0.
fn elements(offsets: &[i32], values: &ArrayRef) -> (ArrayRef, Vec<i32>) {
    let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
    let slice = values.slice(first as usize, (last - first) as usize);
    (slice, offsets.iter().map(|o| o - first).collect())
}

fn transform_list(list: &ListArray, l: &Lambda, ret: &DataType) -> Result<ArrayRef> {
    let (values, offsets) = elements(list.value_offsets(), list.values());
    let mut out = l.eval(vec![values.clone()], values.len())?;
    let DataType::List(item) = ret else {
        return exec_err!("TRANSFORM returns an ARRAY");
    };
    if out.data_type() != item.data_type() {
        out = cast(&out, item.data_type())?;
    }
    Ok(Arc::new(ListArray::try_new(
        item.clone(),
        OffsetBuffer::new(offsets.into()),
        out,
        list.nulls().cloned(),
    )?))
}

/// Indices of the elements `keep` holds true for, and the offsets of what remains.
fn kept(offsets: &[i32], keep: &BooleanArray) -> (UInt32Array, Vec<i32>) {
    let mut indices = Vec::new();
    let mut new_offsets = Vec::with_capacity(offsets.len());
    new_offsets.push(0);
    for w in offsets.windows(2) {
        for j in w[0]..w[1] {
            if keep.is_valid(j as usize) && keep.value(j as usize) {
                indices.push(j as u32);
            }
        }
        new_offsets.push(indices.len() as i32);
    }
    (UInt32Array::from(indices), new_offsets)
}

fn predicate(l: &Lambda, columns: Vec<ArrayRef>, rows: usize) -> Result<BooleanArray> {
    let out = l.eval(columns, rows)?;
    Ok(cast(&out, &DataType::Boolean)?.as_boolean().clone())
}

fn filter_list(list: &ListArray, l: &Lambda) -> Result<ArrayRef> {
    let (values, offsets) = elements(list.value_offsets(), list.values());
    let keep = predicate(l, vec![values.clone()], values.len())?;
    let (indices, offsets) = kept(&offsets, &keep);
    let DataType::List(item) = list.data_type() else {
        return exec_err!("FILTER takes an ARRAY");
    };
    Ok(Arc::new(ListArray::try_new(
        item.clone(),
        OffsetBuffer::new(offsets.into()),
        take(&values, &indices, None)?,
        list.nulls().cloned(),
    )?))
}

/// A map of the given type from keys, values and offsets.
fn build_map(
    ty: &DataType,
    keys: ArrayRef,
    values: ArrayRef,
    offsets: Vec<i32>,
    nulls: Option<datafusion::arrow::buffer::NullBuffer>,
) -> Result<ArrayRef> {
    let DataType::Map(entries, sorted) = ty else {
        return exec_err!("not a MAP type: {ty}");
    };
    let DataType::Struct(fields) = entries.data_type() else {
        return exec_err!("not a MAP type: {ty}");
    };
    let keys = cast(&keys, fields[0].data_type())?;
    let values = cast(&values, fields[1].data_type())?;
    let entries_array = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
    Ok(Arc::new(MapArray::try_new(
        entries.clone(),
        OffsetBuffer::new(offsets.into()),
        entries_array,
        nulls,
        *sorted,
    )?))
}

fn transform_map(map: &MapArray, lk: &Lambda, lv: &Lambda, ret: &DataType) -> Result<ArrayRef> {
    let (keys, offsets) = elements(map.value_offsets(), map.keys());
    let (values, _) = elements(map.value_offsets(), map.values());
    let n = keys.len();
    let new_keys = lk.eval(vec![keys.clone(), values.clone()], n)?;
    let new_values = lv.eval(vec![keys, values], n)?;
    if new_keys.null_count() > 0 {
        return exec_err!("TRANSFORM made a NULL map key");
    }
    // As ksqlDB (its map is collected with `toMap`): a key made twice in one map is an error.
    let converter =
        datafusion::arrow::row::RowConverter::new(vec![datafusion::arrow::row::SortField::new(
            new_keys.data_type().clone(),
        )])?;
    let rows = converter.convert_columns(std::slice::from_ref(&new_keys))?;
    let mut seen = std::collections::HashSet::new();
    for w in offsets.windows(2) {
        seen.clear();
        for i in w[0] as usize..w[1] as usize {
            if !seen.insert(rows.row(i)) {
                return exec_err!("TRANSFORM made a map with the same key twice");
            }
        }
    }
    build_map(ret, new_keys, new_values, offsets, map.nulls().cloned())
}

fn filter_map(map: &MapArray, l: &Lambda) -> Result<ArrayRef> {
    let (keys, offsets) = elements(map.value_offsets(), map.keys());
    let (values, _) = elements(map.value_offsets(), map.values());
    let keep = predicate(l, vec![keys.clone(), values.clone()], keys.len())?;
    let (indices, offsets) = kept(&offsets, &keep);
    build_map(
        map.data_type(),
        take(&keys, &indices, None)?,
        take(&values, &indices, None)?,
        offsets,
        map.nulls().cloned(),
    )
}

/// Folds each row's elements into its initial state, one element at a time. A NULL state is
/// NULL; a NULL array or map leaves the state as it is (as ksqlDB).
fn reduce(input: &ArrayRef, init: &ArrayRef, l: &Lambda) -> Result<ArrayRef> {
    let state_type = init.data_type().clone();
    let mut out = Vec::with_capacity(input.len());
    for row in 0..input.len() {
        let mut state = init.slice(row, 1);
        if state.is_null(0) {
            out.push(ScalarValue::try_from(&state_type)?);
            continue;
        }
        if !input.is_null(row) {
            let columns: Vec<ArrayRef> = match input.data_type() {
                DataType::Map(..) => {
                    let m = input.as_map().value(row);
                    vec![m.column(0).clone(), m.column(1).clone()]
                }
                _ => vec![input.as_list::<i32>().value(row)],
            };
            for j in 0..columns[0].len() {
                let mut args = vec![state.clone()];
                args.extend(columns.iter().map(|c| c.slice(j, 1)));
                state = l.eval(args, 1)?;
                if state.data_type() != &state_type {
                    state = cast(&state, &state_type)?;
                }
            }
        }
        out.push(ScalarValue::try_from_array(&state, 0)?);
    }
    if out.is_empty() {
        return Ok(datafusion::arrow::array::new_empty_array(&state_type));
    }
    ScalarValue::iter_to_array(out)
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn transforms_filters_and_reduces_arrays() {
        assert_eq!(
            eval("TRANSFORM(ARRAY[1, 2, NULL], x => x * 10)").unwrap(),
            "[10,20,null]"
        );
        assert_eq!(
            eval("TRANSFORM(ARRAY['a'], (s) => UCASE(s))").unwrap(),
            r#"["A"]"#
        );
        assert_eq!(
            eval("FILTER(ARRAY[1, 5, 2, NULL], x => x > 1)").unwrap(),
            "[5,2]"
        );
        assert_eq!(
            eval("REDUCE(ARRAY[1, 2, 3], 10, (s, x) => s + x)").unwrap(),
            "16"
        );
        assert_eq!(
            eval("REDUCE(CAST(NULL AS ARRAY<INT>), 10, (s, x) => s + x)").unwrap(),
            "10"
        );
        assert_eq!(
            eval("TRANSFORM(CAST(NULL AS ARRAY<INT>), x => x)").unwrap(),
            "null"
        );
        // Lambdas nest.
        assert_eq!(
            eval("REDUCE(TRANSFORM(ARRAY[ARRAY[1, 2], ARRAY[3]], a => REDUCE(a, 0, (s, x) => s + x)), 0, (t, y) => t + y)").unwrap(),
            "6"
        );
    }

    #[test]
    fn transforms_filters_and_reduces_maps() {
        assert_eq!(
            eval("TRANSFORM(MAP('a' := 1, 'b' := 2), (k, v) => UCASE(k), (k, v) => v + 1)")
                .unwrap(),
            r#"{"A":2,"B":3}"#
        );
        assert_eq!(
            eval("FILTER(MAP('a' := 1, 'b' := 2), (k, v) => v > 1)").unwrap(),
            r#"{"b":2}"#
        );
        assert_eq!(
            eval("REDUCE(MAP('a' := 1, 'bb' := 2), 0, (s, k, v) => s + v * LEN(k))").unwrap(),
            "5"
        );
    }

    #[test]
    fn bad_lambdas_are_errors() {
        assert!(eval("TRANSFORM(ARRAY[1], (x, y) => x)").is_err());
        assert!(eval("TRANSFORM(1, x => x)").is_err());
        assert!(eval("TRANSFORM(ARRAY[1], 'not a lambda')").is_err());
        assert!(eval("FILTER(ARRAY[1], x => nope(x))").is_err());
    }
}
