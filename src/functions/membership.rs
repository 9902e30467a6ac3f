//! ARRAY_CONTAINS and ARRAY_REMOVE, whose elements compare as Java's `Objects.equals` (as
//! ksqlDB's do): NULL equals NULL. ARRAY_CONTAINS of a NULL array is false, not NULL;
//! ARRAY_REMOVE of NULL removes the NULL elements. Both work on whole batches.

use datafusion::arrow::array::{
    make_comparator, Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, ListArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{filter, SortOptions};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(Membership::new("array_contains")),
        ScalarUDF::from(Membership::new("array_remove")),
    ]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Membership {
    name: &'static str,
    signature: Signature,
}

impl Membership {
    fn new(name: &'static str) -> Self {
        Membership {
            name,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn removes(&self) -> bool {
        self.name == "array_remove"
    }
}

/// The array's type and its element's, with a NULL array taking the element's type.
fn array_and_element(name: &str, args: &[DataType]) -> Result<(DataType, DataType)> {
    let [array, element] = args else {
        return plan_err!("Function '{name}' takes an ARRAY and a value");
    };
    match array {
        DataType::List(f) => Ok((array.clone(), f.data_type().clone())),
        DataType::Null => {
            let element = match element {
                DataType::Null => DataType::Int32,
                other => other.clone(),
            };
            Ok((DataType::new_list(element.clone(), true), element))
        }
        other => plan_err!("Function '{name}' does not accept parameters ({other}, {element})."),
    }
}

impl ScalarUDFImpl for Membership {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let (array, element) = array_and_element(self.name, args)?;
        Ok(vec![array, element])
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if self.removes() {
            Ok(array_and_element(self.name, args)?.0)
        } else {
            Ok(DataType::Boolean)
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let list = arrays[0].as_list::<i32>();
        let needles = &arrays[1];
        // NULLs compare equal to NULLs; the order of the rest does not matter, only equality.
        let equal = make_comparator(
            list.values().as_ref(),
            needles.as_ref(),
            SortOptions::default(),
        )?;
        let offsets = list.value_offsets();
        let matches = |row: usize| offsets[row] as usize..offsets[row + 1] as usize;
        let out: ArrayRef = if self.removes() {
            let mut keep = BooleanBufferBuilder::new(list.values().len());
            let mut lengths = Vec::with_capacity(list.len());
            for row in 0..list.len() {
                let mut kept = 0;
                for j in matches(row) {
                    let k = list.is_valid(row) && equal(j, row).is_ne();
                    keep.append(k);
                    kept += usize::from(k);
                }
                lengths.push(kept);
            }
            let values = filter(list.values(), &BooleanArray::new(keep.finish(), None))?;
            let field = match args.return_field.data_type() {
                DataType::List(f) => f.clone(),
                _ => Arc::new(Field::new("item", values.data_type().clone(), true)),
            };
            Arc::new(ListArray::try_new(
                field,
                OffsetBuffer::from_lengths(lengths),
                values,
                list.nulls().cloned(),
            )?)
        } else {
            Arc::new(
                (0..list.len())
                    .map(|row| {
                        Some(list.is_valid(row) && matches(row).any(|j| equal(j, row).is_eq()))
                    })
                    .collect::<BooleanArray>(),
            )
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn nulls_equal_nulls() {
        assert_eq!(
            eval("ARRAY_CONTAINS(ARRAY[1, NULL], NULL)").unwrap(),
            "true"
        );
        assert_eq!(eval("ARRAY_CONTAINS(ARRAY[1, 2], NULL)").unwrap(), "false");
        assert_eq!(
            eval("ARRAY_CONTAINS(ARRAY['a', 'b'], 'b')").unwrap(),
            "true"
        );
        assert_eq!(eval("ARRAY_CONTAINS(NULL, 1)").unwrap(), "false");
        assert_eq!(
            eval("ARRAY_CONTAINS(ARRAY[ARRAY[1], ARRAY[2, 3]], ARRAY[2, 3])").unwrap(),
            "true"
        );
        assert_eq!(
            eval("ARRAY_REMOVE(ARRAY[1, NULL, 2, NULL], NULL)").unwrap(),
            "[1,2]"
        );
        assert_eq!(
            eval("ARRAY_REMOVE(ARRAY[1, 2, 1, NULL], 1)").unwrap(),
            "[2,null]"
        );
        assert_eq!(eval("ARRAY_REMOVE(ARRAY['a'], 'a')").unwrap(), "[]");
        assert_eq!(
            eval("ARRAY_REMOVE(CAST(NULL AS ARRAY<INT>), 1)").unwrap(),
            "null"
        );
    }
}
