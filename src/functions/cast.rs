//! CAST as ksqlDB does it. Which casts exist is ksqlDB's table (`castable`: BOOLEAN becomes
//! nothing but a STRING, no number becomes a BOOLEAN or a TIMESTAMP, ...); where ksqlDB's result
//! differs from Arrow's cast kernel, Brooklet converts itself (`cast`): a DOUBLE or a
//! collection becomes a STRING as Java prints it, a TIMESTAMP as `yyyy-MM-ddTHH:mm:ss.SSS`, a
//! too-large number wraps as Java narrows it, a STRING becomes a BOOLEAN when it starts `true`
//! or `yes`, BYTES from base64, structs match their fields by name. Everything else is Arrow's
//! kernel over the whole array.

use crate::catalog::types::SqlType;
use crate::format::json::{java_double, write_decimal, write_decimal256};
use base64::Engine as _;
use datafusion::arrow::array::*;
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::*;
use datafusion::common::ScalarValue;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use std::sync::Arc;

/// Whether ksqlDB casts `from` to `to` (its `CastEvaluator` table, element by element inside
/// collections).
pub fn castable(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Array(a), Array(b)) => castable(a, b),
        (Map(k1, v1), Map(k2, v2)) => castable(k1, k2) && castable(v1, v2),
        (Struct(f1), Struct(f2)) => f1.iter().all(|(name, t1)| {
            f2.iter()
                .find(|(n, _)| n == name)
                .is_none_or(|(_, t2)| castable(t1, t2))
        }),
        (Array(_) | Map(..) | Struct(_), String) => true,
        (Boolean, String) => true,
        (Int | Bigint | Decimal(..) | Double, Int | Bigint | Decimal(..) | Double | String) => true,
        (
            String,
            Boolean | Int | Bigint | Decimal(..) | Double | Timestamp | Time | Date | Bytes,
        ) => true,
        (Timestamp, String | Time | Date) => true,
        (Date, Timestamp | String) => true,
        (Time, String) => true,
        _ => false,
    }
}

/// The plan-time check of a CAST: ksqlDB's error for a cast it does not have.
pub fn check(from: &DataType, to: &DataType) -> Result<()> {
    if from == to || from == &DataType::Null {
        return Ok(());
    }
    match (SqlType::from_arrow(from), SqlType::from_arrow(to)) {
        (Some(f), Some(t)) if !castable(&f, &t) => Err(crate::error::ksql_plan_error(format!(
            "Cast of {f} to {t} is not supported"
        ))),
        _ => Ok(()),
    }
}

/// The function a CAST becomes: its second argument is a NULL of the target type.
pub fn udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(KsqlCast::new("cast", false)))
}

/// `KSQL_CAST_AS(x, 'TYPE')`: what `CAST(x AS TYPE)` becomes for a type sqlparser cannot read
/// (`sql::casts`); the type is read with ksqlDB's syntax.
pub fn cast_as_udf() -> ScalarUDF {
    ScalarUDF::from(KsqlCast::new("ksql_cast_as", true))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct KsqlCast {
    name: &'static str,
    /// The target type is given as text (else as a NULL of that type).
    by_text: bool,
    signature: Signature,
}

impl KsqlCast {
    fn new(name: &'static str, by_text: bool) -> Self {
        KsqlCast {
            name,
            by_text,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for KsqlCast {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        plan_err!("a CAST's type comes from its second argument")
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let target = if self.by_text {
            let Some(Some(ScalarValue::Utf8(Some(text)))) = args.scalar_arguments.get(1) else {
                return plan_err!("CAST needs a type");
            };
            let target = crate::sql::parse_type_text(text)
                .map_err(|e| datafusion::error::DataFusionError::Plan(e.message))?
                .to_arrow();
            check(args.arg_fields[0].data_type(), &target)?;
            target
        } else {
            args.arg_fields[1].data_type().clone()
        };
        Ok(Arc::new(Field::new(self.name, target, true)))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let to = args.return_field.data_type().clone();
        Ok(match &args.args[0] {
            ColumnarValue::Array(a) => ColumnarValue::Array(cast(a, &to)?),
            ColumnarValue::Scalar(s) => {
                let a = cast(&s.to_array()?, &to)?;
                ColumnarValue::Scalar(ScalarValue::try_from_array(&a, 0)?)
            }
        })
    }
}

/// Arrow's kernel, failing (as ksqlDB's cast throws) rather than making NULLs of bad values.
fn arrow_cast(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    Ok(cast_with_options(a, to, &options)?)
}

/// `a` cast to `to` with ksqlDB's results.
pub fn cast(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    use DataType::*;
    let from = a.data_type();
    if from == to {
        return Ok(a.clone());
    }
    Ok(match (from, to) {
        (Null, _) => new_null_array(to, a.len()),
        (List(_), List(item)) => {
            let l = a.as_list::<i32>();
            let values = cast(l.values(), item.data_type())?;
            Arc::new(ListArray::try_new(
                item.clone(),
                l.offsets().clone(),
                values,
                l.nulls().cloned(),
            )?)
        }
        (Struct(_), Struct(fields)) => {
            let s = a.as_struct();
            let columns = fields
                .iter()
                .map(|f| match s.column_by_name(f.name()) {
                    Some(c) => cast(c, f.data_type()),
                    None => Ok(new_null_array(f.data_type(), a.len())),
                })
                .collect::<Result<Vec<_>>>()?;
            Arc::new(StructArray::try_new(
                fields.clone(),
                columns,
                s.nulls().cloned(),
            )?)
        }
        (Map(..), Map(entries, sorted)) => {
            let m = a.as_map();
            let DataType::Struct(kv) = entries.data_type() else {
                return exec_err!("a map's entries are a struct");
            };
            let keys = cast(m.keys(), kv[0].data_type())?;
            let values = cast(m.values(), kv[1].data_type())?;
            let entries_array = StructArray::try_new(kv.clone(), vec![keys, values], None)?;
            Arc::new(MapArray::try_new(
                entries.clone(),
                m.offsets().clone(),
                entries_array,
                m.nulls().cloned(),
                *sorted,
            )?)
        }
        (Float64 | Timestamp(..) | Time32(_) | List(_) | Map(..) | Struct(_), Utf8) => {
            let mut out = StringBuilder::with_capacity(a.len(), a.len() * 8);
            let mut text = Vec::new();
            for row in 0..a.len() {
                if a.is_null(row) {
                    out.append_null();
                } else {
                    text.clear();
                    java_text(a, row, &mut text);
                    out.append_value(String::from_utf8_lossy(&text));
                }
            }
            Arc::new(out.finish())
        }
        // Java narrows as `intValue()` does: the low 32 bits.
        (Int64, Int32) => Arc::new(
            a.as_primitive::<Int64Type>()
                .unary::<_, Int32Type>(|v| v as i32),
        ),
        // Java's `(int)` / `(long)` of a double: toward zero, saturating, NaN is 0.
        (Float64, Int32) => Arc::new(
            a.as_primitive::<Float64Type>()
                .unary::<_, Int32Type>(|v| v as i32),
        ),
        (Float64, Int64) => Arc::new(
            a.as_primitive::<Float64Type>()
                .unary::<_, Int64Type>(|v| v as i64),
        ),
        // A BigDecimal's `intValue()` / `longValue()`: the integer part, then its low bits.
        (Decimal128(_, s), Int32 | Int64) => {
            let scale = 10i128.pow(u32::from(s.unsigned_abs()));
            let whole = a.as_primitive::<Decimal128Type>();
            match to {
                Int32 => Arc::new(whole.unary::<_, Int32Type>(|v| (v / scale) as i32)),
                _ => Arc::new(whole.unary::<_, Int64Type>(|v| (v / scale) as i64)),
            }
        }
        // As `new BigDecimal(double, new MathContext(precision))`: the double's exact value
        // rounded (half up) to the target's digits, then to its scale.
        (Float64, Decimal128(p, _) | Decimal256(p, _)) => {
            let d = a.as_primitive::<Float64Type>();
            let texts = (0..d.len())
                .map(|i| {
                    d.is_valid(i)
                        .then(|| significant(d.value(i), usize::from(*p)))
                        .transpose()
                })
                .collect::<Result<Vec<_>>>()?;
            decimals(texts.iter().map(|t| t.as_deref()), to)?
        }
        // As `new BigDecimal(text.trim())`, rounded half up to the scale.
        (Utf8, Decimal128(..) | Decimal256(..)) => {
            decimals(a.as_string::<i32>().iter().map(|v| v.map(str::trim)), to)?
        }
        (Utf8, Boolean) => {
            let s = a.as_string::<i32>();
            Arc::new(
                s.iter()
                    .map(|v| v.map(|v| truthy(v.trim())))
                    .collect::<BooleanArray>(),
            )
        }
        (Utf8, Binary) => {
            let s = a.as_string::<i32>();
            let mut out = BinaryBuilder::with_capacity(s.len(), s.value_data().len());
            for v in s.iter() {
                match v {
                    None => out.append_null(),
                    Some(v) => match base64::engine::general_purpose::STANDARD.decode(v.trim()) {
                        Ok(b) => out.append_value(b),
                        Err(e) => return exec_err!("'{v}' is not base64: {e}"),
                    },
                }
            }
            Arc::new(out.finish())
        }
        // As ksqlDB's `SqlTimeTypes`: partial texts are the start of their period (`2020-05`
        // is May 1st, `10:00` ten o'clock, `2020-05-26T10` with an optional offset).
        (Utf8, Date32 | Time32(_) | Time64(_) | Timestamp(..)) => time_from_text(a, to)?,
        (Utf8, Int32 | Int64 | Float64) => {
            let s = a.as_string::<i32>();
            let trimmed: StringArray = s.iter().map(|v| v.map(str::trim)).collect();
            arrow_cast(&(Arc::new(trimmed) as ArrayRef), to)?
        }
        _ => arrow_cast(a, to)?,
    })
}

/// Texts as a DATE, TIME or TIMESTAMP of type `to`, read as ksqlDB's `SqlTimeTypes` reads
/// them; a text that does not read is an error naming the format, as ksqlDB's.
fn time_from_text(a: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
    use crate::plan::magic;
    let (read, format): (fn(&str) -> Option<i64>, &str) = match to {
        DataType::Date32 => (|t| magic::parse_date(t).map(i64::from), "yyyy-MM-dd"),
        DataType::Time32(_) | DataType::Time64(_) => {
            (|t| magic::parse_time(t).map(i64::from), "HH:mm:ss.SSS")
        }
        _ => (magic::parse, "yyyy-MM-dd'T'HH:mm:ss.SSS"),
    };
    let texts = a.as_string::<i32>();
    let mut values: Vec<Option<i64>> = Vec::with_capacity(texts.len());
    for t in texts.iter() {
        values.push(match t {
            None => None,
            Some(t) => match read(t) {
                Some(v) => Some(v),
                None => {
                    let ty = SqlType::from_arrow(to).map_or(to.to_string(), |t| t.to_string());
                    return exec_err!("Can't cast '{t}' to {ty}. Required format is: \"{format}\"");
                }
            },
        });
    }
    // Days for a DATE, milliseconds otherwise; then the target's own unit.
    let base: ArrayRef = match to {
        DataType::Date32 => Arc::new(
            values
                .iter()
                .map(|v| v.and_then(|d| i32::try_from(d).ok()))
                .collect::<Date32Array>(),
        ),
        DataType::Time32(_) | DataType::Time64(_) => Arc::new(
            values
                .iter()
                .map(|v| v.and_then(|d| i32::try_from(d).ok()))
                .collect::<Time32MillisecondArray>(),
        ),
        _ => Arc::new(values.into_iter().collect::<TimestampMillisecondArray>()),
    };
    arrow_cast(&base, to)
}

/// `v`'s exact decimal value rounded half up to `digits` significant digits, as text.
fn significant(v: f64, digits: usize) -> Result<String> {
    if !v.is_finite() {
        return exec_err!("Cannot make a DECIMAL of {v}");
    }
    if v == 0.0 {
        return Ok("0".into());
    }
    // Every double's exact expansion has fewer than 800 significant digits.
    let exact = format!("{:.800e}", v.abs());
    let (mantissa, exp) = exact.split_once('e').unwrap_or((&exact, "0"));
    let mut exp: i32 = exp.parse().unwrap_or(0);
    let all: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let digits = digits.clamp(1, all.len() - 1);
    let mut kept = all[..digits].to_vec();
    if all[digits] >= b'5' && super::decimal::increment_digits(&mut kept) {
        // 9.99 to 2 digits is 1.0e1: one digit more, one place up.
        kept.pop();
        exp += 1;
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let kept = String::from_utf8_lossy(&kept);
    Ok(format!("{sign}{}.{}e{exp}", &kept[..1], &kept[1..]))
}

/// Decimal texts as decimals of type `to` (half up to its scale); a value that does not fit or
/// does not read is an error.
fn decimals<'a>(texts: impl Iterator<Item = Option<&'a str>>, to: &DataType) -> Result<ArrayRef> {
    use crate::format::build::parse_decimal;
    fn build<'a, T>(
        texts: impl Iterator<Item = Option<&'a str>>,
        p: u8,
        s: i8,
    ) -> Result<PrimitiveArray<T>>
    where
        T: DecimalType,
        T::Native: std::str::FromStr,
    {
        let mut out = PrimitiveBuilder::<T>::new();
        for t in texts {
            match t {
                None => out.append_null(),
                Some(t) => match parse_decimal::<T>(t, p, s) {
                    Some(v) => out.append_value(v),
                    None => {
                        return exec_err!("Cannot fit '{t}' into DECIMAL({p}, {s}): Numeric field overflow or not a number")
                    }
                },
            }
        }
        Ok(out.finish().with_precision_and_scale(p, s)?)
    }
    Ok(match to {
        DataType::Decimal128(p, s) => Arc::new(build::<Decimal128Type>(texts, *p, *s)?),
        DataType::Decimal256(p, s) => Arc::new(build::<Decimal256Type>(texts, *p, *s)?),
        other => return exec_err!("not a decimal type: {other}"),
    })
}

/// `SqlBooleans.parseBoolean`: true for (a prefix of) `true` or `yes`, in any case.
fn truthy(s: &str) -> bool {
    let prefix_of = |word: &str| {
        !s.is_empty() && s.len() <= word.len() && word[..s.len()].eq_ignore_ascii_case(s)
    };
    prefix_of("true") || prefix_of("yes")
}

/// A value as Java's `String.valueOf` writes it (lists `[a, b]`, maps `{k=v}`, structs
/// `Struct{A=1,B=x}` without their NULL fields), appended to `out` (UTF-8).
fn java_text(a: &ArrayRef, row: usize, out: &mut Vec<u8>) {
    use std::io::Write;
    if a.is_null(row) {
        out.extend_from_slice(b"null");
        return;
    }
    match a.data_type() {
        DataType::Float64 => java_double(a.as_primitive::<Float64Type>().value(row), out),
        DataType::Utf8 => out.extend_from_slice(a.as_string::<i32>().value(row).as_bytes()),
        DataType::Boolean => out.extend_from_slice(if a.as_boolean().value(row) {
            b"true"
        } else {
            b"false"
        }),
        DataType::Int32 => {
            let _ = write!(out, "{}", a.as_primitive::<Int32Type>().value(row));
        }
        DataType::Int64 => {
            let _ = write!(out, "{}", a.as_primitive::<Int64Type>().value(row));
        }
        DataType::Decimal128(_, s) => {
            write_decimal(out, a.as_primitive::<Decimal128Type>().value(row), *s)
        }
        DataType::Decimal256(_, s) => {
            write_decimal256(out, a.as_primitive::<Decimal256Type>().value(row), *s)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let ms = a.as_primitive::<TimestampMillisecondType>().value(row);
            let _ = match chrono::DateTime::from_timestamp_millis(ms) {
                Some(t) => write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3f")),
                None => write!(out, "{ms}"),
            };
        }
        DataType::Time32(TimeUnit::Millisecond) => {
            // `LocalTime.ofSecondOfDay(..).toString()`: seconds only when there are some.
            let secs = a.as_primitive::<Time32MillisecondType>().value(row) / 1000;
            let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
            let _ = write!(out, "{h:02}:{m:02}");
            if s != 0 {
                let _ = write!(out, ":{s:02}");
            }
        }
        DataType::List(_) => {
            let items = a.as_list::<i32>().value(row);
            out.push(b'[');
            for i in 0..items.len() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                java_text(&items, i, out);
            }
            out.push(b']');
        }
        DataType::Map(..) => {
            let m = a.as_map();
            let (start, end) = (
                m.value_offsets()[row] as usize,
                m.value_offsets()[row + 1] as usize,
            );
            out.push(b'{');
            for i in start..end {
                if i > start {
                    out.extend_from_slice(b", ");
                }
                java_text(m.keys(), i, out);
                out.push(b'=');
                java_text(m.values(), i, out);
            }
            out.push(b'}');
        }
        DataType::Struct(fields) => {
            out.extend_from_slice(b"Struct{");
            let mut first = true;
            for (f, c) in fields.iter().zip(a.as_struct().columns()) {
                if c.is_null(row) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(f.name().as_bytes());
                out.push(b'=');
                java_text(c, row, out);
            }
            out.push(b'}');
        }
        // Anything rarer (dates, bytes, small integers) through Arrow's text.
        _ => match arrow_cast(&a.slice(row, 1), &DataType::Utf8) {
            Ok(s) => out.extend_from_slice(s.as_string::<i32>().value(0).as_bytes()),
            Err(_) => out.push(b'?'),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_casts() {
        use SqlType::*;
        assert!(castable(&Int, &Bigint));
        assert!(castable(&String, &Bytes));
        assert!(castable(&Date, &Timestamp));
        assert!(!castable(&Boolean, &Int));
        assert!(!castable(&Int, &Boolean));
        assert!(!castable(&Bigint, &Timestamp));
        assert!(!castable(&Bytes, &String));
        assert!(!castable(&Time, &Date));
        assert!(castable(&Array(Box::new(Int)), &Array(Box::new(String))));
        assert!(!castable(&Array(Box::new(Boolean)), &Array(Box::new(Int))));
        assert!(truthy("T") && truthy("ye") && truthy("TRUE") && !truthy("truex"));
        assert!(!truthy("") && !truthy("no") && !truthy("1"));
        // Half up on the exact binary value: 1.005 is 1.00499999999999989...
        assert_eq!(significant(1.005, 3).unwrap(), "1.00e0");
        assert_eq!(significant(2.5, 1).unwrap(), "3.e0");
        assert_eq!(significant(-9.99, 2).unwrap(), "-1.0e1");
        assert_eq!(significant(0.045, 3).unwrap(), "4.50e-2");
    }
}
