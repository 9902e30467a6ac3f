//! Table functions: EXPLODE (a row per element of an array) and CUBE_EXPLODE (a row per
//! combination of an array's elements, each either kept or NULL, as GROUP BY CUBE). In a
//! query they are the outermost call of a select item; the function itself yields the list
//! of what becomes rows, and the query's projection makes one row of each (`exec::unnest`).

use super::row::{row_function, Arg};
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, ScalarValue};
use datafusion::logical_expr::ScalarUDF;
use std::sync::Arc;

/// The names of the table functions.
pub const NAMES: &[&str] = &["explode", "cube_explode"];

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        row_function(
            "explode",
            &[&[List]],
            |a| a[0].clone(),
            |a, _| match &a[0] {
                v @ ScalarValue::List(_) => Ok(v.clone()),
                v if v.is_null() => Ok(v.clone()),
                v => exec_err!("EXPLODE needs an ARRAY, not {}", v.data_type()),
            },
        ),
        row_function(
            "cube_explode",
            &[&[List]],
            |a| DataType::List(Arc::new(Field::new("item", a[0].clone(), true))),
            |a, ret| {
                let Some(items) = super::row::list_items(&a[0]) else {
                    return ScalarValue::try_from(ret);
                };
                let n = items.len();
                if n > 16 {
                    return exec_err!("CUBE_EXPLODE takes at most 16 elements, not {n}");
                }
                let elem = items.data_type().clone();
                let values: Vec<ScalarValue> = (0..n)
                    .map(|i| ScalarValue::try_from_array(&items, i))
                    .collect::<datafusion::common::Result<_>>()?;
                let null = ScalarValue::try_from(&elem)?;
                // Every subset, the first element's bit highest; the same combination twice
                // (NULL elements) once.
                let mut combos: Vec<Vec<ScalarValue>> = Vec::new();
                for mask in 0..(1u32 << n) {
                    let combo: Vec<ScalarValue> = (0..n)
                        .map(|i| {
                            if mask & (1 << (n - 1 - i)) != 0 {
                                values[i].clone()
                            } else {
                                null.clone()
                            }
                        })
                        .collect();
                    if !combos.contains(&combo) {
                        combos.push(combo);
                    }
                }
                let lists: Vec<ScalarValue> = combos
                    .iter()
                    .map(|c| ScalarValue::List(ScalarValue::new_list_nullable(c, &elem)))
                    .collect();
                let DataType::List(item) = ret else {
                    return exec_err!("CUBE_EXPLODE returns an ARRAY");
                };
                Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                    &lists,
                    item.data_type(),
                )))
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn cubes_are_every_combination_once() {
        assert_eq!(
            eval("CUBE_EXPLODE(ARRAY[1, 2])").unwrap(),
            "[[null,null],[null,2],[1,null],[1,2]]"
        );
        assert_eq!(
            eval("CUBE_EXPLODE(ARRAY[1, NULL])").unwrap(),
            "[[null,null],[1,null]]"
        );
        assert_eq!(
            eval("CUBE_EXPLODE(CAST(NULL AS ARRAY<INT>))").unwrap(),
            "null"
        );
        assert_eq!(eval("EXPLODE(ARRAY[1, 2])").unwrap(), "[1,2]");
        assert!(eval("EXPLODE(1)").is_err());
    }
}
