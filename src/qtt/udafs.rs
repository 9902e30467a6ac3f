//! ksqlDB's test-registry aggregate functions, which its QTT files call (MULTI_ARG, FOUR_ARG,
//! FIVE_ARG, VAR_ARG, MID_VAR_ARG, GENERIC_VAR_ARG, TEST_UDAF), as `functions::udaf`
//! aggregates given to the QTT runner's engines only. Each behaves as its Java class in
//! `ksqldb-engine`'s tests (`MultiArgUdaf`, `FourArgUdaf`, `FiveArgUdaf`, `VarArgUdaf`,
//! `MiddleVarArgUdaf`, `GenericVarArgUdaf`, `TestUdaf`).

use crate::catalog::types::SqlType;
use crate::error::{Error, Result};
use crate::functions::udaf::{refused, UdafInstance, UserAggregate};
use datafusion::arrow::array::{Array, ArrayRef, Int32Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::ScalarValue;
use std::sync::Arc;

/// The test registry's aggregates.
pub fn udafs() -> Vec<Arc<dyn UserAggregate>> {
    use P::*;
    let sums = |name, columns: &'static [P], variadic, init: &'static [P], init_rest| {
        Arc::new(Sums {
            name,
            columns,
            variadic,
            init,
            init_rest,
        }) as Arc<dyn UserAggregate>
    };
    vec![
        sums("MULTI_ARG", &[Long, Str], None, &[Int], Some(Str)),
        sums("FOUR_ARG", &[Long, Str, Str, Str], None, &[Int], Some(Str)),
        sums(
            "FIVE_ARG",
            &[Long, Str, Str, Str, Int],
            None,
            &[Int],
            Some(Str),
        ),
        sums("VAR_ARG", &[Long], Some(Str), &[], None),
        sums("MID_VAR_ARG", &[Long], Some(Str), &[Int, Int], None),
        Arc::new(GenericVarArg),
        Arc::new(TestUdaf),
    ]
}

/// A Java parameter type: `Long` takes an INT or a BIGINT.
#[derive(Debug, Clone, Copy)]
enum P {
    Long,
    Int,
    Str,
}

impl P {
    fn accepts(self, t: &SqlType) -> bool {
        match self {
            P::Long => matches!(t, SqlType::Int | SqlType::Bigint),
            P::Int => *t == SqlType::Int,
            P::Str => *t == SqlType::String,
        }
    }
}

/// A value's contribution to a sum: a number as it is, a string's length, NULL nothing.
fn amount(v: &ScalarValue) -> i64 {
    match v {
        ScalarValue::Int32(Some(x)) => i64::from(*x),
        ScalarValue::Int64(Some(x)) => *x,
        ScalarValue::Utf8(Some(s)) => s.chars().count() as i64,
        _ => 0,
    }
}

fn long(v: &ScalarValue) -> i64 {
    match v {
        ScalarValue::Int64(Some(x)) => *x,
        _ => 0,
    }
}

/// The aggregates that sum their arguments' numbers and string lengths: `columns` then any
/// number of `variadic` per row, then initial arguments `init` and any number of
/// `init_rest`. An `Int` initial argument adds to the start (`MultiArgUdaf`), except where
/// there are two, which add to the result (`MiddleVarArgUdaf`).
#[derive(Debug)]
struct Sums {
    name: &'static str,
    columns: &'static [P],
    variadic: Option<P>,
    init: &'static [P],
    init_rest: Option<P>,
}

impl UserAggregate for Sums {
    fn name(&self) -> &str {
        self.name
    }

    fn resolve(
        &self,
        types: &[SqlType],
        literals: &[Option<ScalarValue>],
    ) -> Result<Arc<dyn UdafInstance>> {
        let no = || refused(self.name, types);
        // Variadic row arguments: the initial ones are the last `init.len()`; else the row
        // arguments are the first `columns.len()`.
        let columns = if self.variadic.is_some() {
            types.len().checked_sub(self.init.len()).ok_or_else(no)?
        } else {
            self.columns.len()
        };
        if columns < self.columns.len() || types.len() < columns + self.init.len() {
            return Err(no());
        }
        let row_ok = types[..columns].iter().enumerate().all(|(i, t)| {
            self.columns
                .get(i)
                .or(self.variadic.as_ref())
                .is_some_and(|p| p.accepts(t))
        });
        let init_ok = types[columns..].iter().enumerate().all(|(i, t)| {
            self.init
                .get(i)
                .or(self.init_rest.as_ref())
                .is_some_and(|p| p.accepts(t))
        });
        if !row_ok || !init_ok || literals[columns..].iter().any(Option::is_none) {
            return Err(no());
        }
        let init: i64 = literals[columns..].iter().flatten().map(amount).sum();
        let (start, end) = if self.init.len() == 2 {
            (0, init)
        } else {
            (init, 0)
        };
        Ok(Arc::new(SumsCall {
            columns,
            start,
            end,
        }))
    }
}

#[derive(Debug)]
struct SumsCall {
    columns: usize,
    start: i64,
    end: i64,
}

impl UdafInstance for SumsCall {
    fn columns(&self) -> usize {
        self.columns
    }
    fn state_type(&self) -> SqlType {
        SqlType::Bigint
    }
    fn result_type(&self) -> SqlType {
        SqlType::Bigint
    }
    fn initialize(&self) -> ScalarValue {
        ScalarValue::Int64(Some(self.start))
    }
    fn aggregate(&self, args: &[ScalarValue], state: ScalarValue) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(
            long(&state) + args.iter().map(amount).sum::<i64>(),
        )))
    }
    fn merge(&self, a: ScalarValue, b: ScalarValue) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(long(&a) + long(&b))))
    }
    fn map(&self, state: &ScalarValue) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(long(state) + self.end)))
    }
}

/// `GenericVarArgUdaf`: (A, B, C...) with every C of one type; collects A from rows where
/// no argument is NULL, into ARRAY<A>.
#[derive(Debug)]
struct GenericVarArg;

impl UserAggregate for GenericVarArg {
    fn name(&self) -> &str {
        "GENERIC_VAR_ARG"
    }
    fn resolve(
        &self,
        types: &[SqlType],
        _: &[Option<ScalarValue>],
    ) -> Result<Arc<dyn UdafInstance>> {
        if types.len() < 2 || types[2..].windows(2).any(|w| w[0] != w[1]) {
            return Err(refused(self.name(), types));
        }
        Ok(Arc::new(Collect {
            columns: types.len(),
            of: types[0].clone(),
        }))
    }
}

#[derive(Debug)]
struct Collect {
    columns: usize,
    of: SqlType,
}

impl Collect {
    fn items(&self, v: &ScalarValue) -> Result<Vec<ScalarValue>> {
        match v {
            ScalarValue::List(l) if !l.is_null(0) => {
                let values = l.value(0);
                (0..values.len())
                    .map(|i| Ok(ScalarValue::try_from_array(&values, i)?))
                    .collect()
            }
            _ => Ok(Vec::new()),
        }
    }
    fn list(&self, items: &[ScalarValue]) -> ScalarValue {
        ScalarValue::List(ScalarValue::new_list(items, &self.of.to_arrow(), true))
    }
}

impl UdafInstance for Collect {
    fn columns(&self) -> usize {
        self.columns
    }
    fn state_type(&self) -> SqlType {
        SqlType::Array(Box::new(self.of.clone()))
    }
    fn result_type(&self) -> SqlType {
        self.state_type()
    }
    fn initialize(&self) -> ScalarValue {
        self.list(&[])
    }
    fn aggregate(&self, args: &[ScalarValue], state: ScalarValue) -> Result<ScalarValue> {
        let mut items = self.items(&state)?;
        if args.iter().all(|a| !a.is_null()) {
            items.push(args[0].clone());
        }
        Ok(self.list(&items))
    }
    fn merge(&self, a: ScalarValue, b: ScalarValue) -> Result<ScalarValue> {
        let mut items = self.items(&a)?;
        items.extend(self.items(&b)?);
        Ok(self.list(&items))
    }
    fn map(&self, state: &ScalarValue) -> Result<ScalarValue> {
        Ok(state.clone())
    }
}

/// `TestUdaf`'s factories: sums of BIGINT and INT (retractable over tables), of DOUBLE, of
/// string lengths after an initial string, and of a `STRUCT<A INT, B INT>` field by field.
#[derive(Debug)]
struct TestUdaf;

#[derive(Debug, Clone, Copy, PartialEq)]
enum TestKind {
    Long,
    Double,
    Lengths(i64),
    Struct,
}

fn struct_ab() -> SqlType {
    SqlType::Struct(vec![("A".into(), SqlType::Int), ("B".into(), SqlType::Int)])
}

impl UserAggregate for TestUdaf {
    fn name(&self) -> &str {
        "TEST_UDAF"
    }
    fn resolve(
        &self,
        types: &[SqlType],
        literals: &[Option<ScalarValue>],
    ) -> Result<Arc<dyn UdafInstance>> {
        let kind = match (types, literals) {
            ([SqlType::Bigint | SqlType::Int], _) => TestKind::Long,
            ([SqlType::Double], _) => TestKind::Double,
            ([SqlType::String, SqlType::String], [_, Some(init)]) => {
                TestKind::Lengths(amount(init))
            }
            ([t], _) if *t == struct_ab() => TestKind::Struct,
            _ => return Err(refused(self.name(), types)),
        };
        Ok(Arc::new(TestCall { kind }))
    }
}

#[derive(Debug)]
struct TestCall {
    kind: TestKind,
}

fn ab(v: &ScalarValue) -> (i32, i32) {
    let ScalarValue::Struct(s) = v else {
        return (0, 0);
    };
    let field = |name: &str| {
        s.column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>().cloned())
            .filter(|c| !c.is_null(0))
            .map_or(0, |c| c.value(0))
    };
    (field("A"), field("B"))
}

fn struct_of(a: i32, b: i32) -> Result<ScalarValue> {
    let fields = Fields::from(vec![
        Field::new("A", DataType::Int32, true),
        Field::new("B", DataType::Int32, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![a])),
        Arc::new(Int32Array::from(vec![b])),
    ];
    let s =
        StructArray::try_new(fields, columns, None).map_err(|e| Error::generic(e.to_string()))?;
    Ok(ScalarValue::Struct(Arc::new(s)))
}

impl UdafInstance for TestCall {
    fn columns(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        match self.kind {
            TestKind::Long | TestKind::Lengths(_) => SqlType::Bigint,
            TestKind::Double => SqlType::Double,
            TestKind::Struct => struct_ab(),
        }
    }
    fn result_type(&self) -> SqlType {
        self.state_type()
    }
    fn initialize(&self) -> ScalarValue {
        match self.kind {
            TestKind::Long => ScalarValue::Int64(Some(0)),
            TestKind::Lengths(n) => ScalarValue::Int64(Some(n)),
            TestKind::Double => ScalarValue::Float64(Some(0.0)),
            TestKind::Struct => struct_of(0, 0).unwrap_or(ScalarValue::Null),
        }
    }
    fn aggregate(&self, args: &[ScalarValue], state: ScalarValue) -> Result<ScalarValue> {
        self.merge(state, args[0].clone())
    }
    fn undo(&self, args: &[ScalarValue], state: ScalarValue) -> Option<Result<ScalarValue>> {
        (self.kind == TestKind::Long)
            .then(|| Ok(ScalarValue::Int64(Some(long(&state) - amount(&args[0])))))
    }
    fn undoable(&self) -> bool {
        self.kind == TestKind::Long
    }
    fn merge(&self, a: ScalarValue, b: ScalarValue) -> Result<ScalarValue> {
        Ok(match self.kind {
            TestKind::Long | TestKind::Lengths(_) => {
                ScalarValue::Int64(Some(long(&a) + amount(&b)))
            }
            TestKind::Double => {
                let f = |v: &ScalarValue| match v {
                    ScalarValue::Float64(Some(x)) => *x,
                    _ => 0.0,
                };
                ScalarValue::Float64(Some(f(&a) + f(&b)))
            }
            TestKind::Struct => {
                let ((a1, b1), (a2, b2)) = (ab(&a), ab(&b));
                struct_of(a1 + a2, b1 + b2)?
            }
        })
    }
    fn map(&self, state: &ScalarValue) -> Result<ScalarValue> {
        Ok(state.clone())
    }
}
