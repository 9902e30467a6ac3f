//! ksqlDB's coercion of user lists (`CoercionUtil.coerceUserList`): the elements of an
//! `ARRAY[...]`, the keys and the values of a `MAP(k := v, ...)`, and the operands of an
//! `x IN (...)` take one common type, found element by element:
//!
//! - the first element that is not a NULL literal gives the type to start from;
//! - a string literal meeting a number becomes the number it spells (`'14.1230'` is a
//!   DECIMAL), and one meeting a BOOLEAN must spell one (`'no'`);
//! - any other element meets the type so far through the value coercer's rules, lax for
//!   literals (a number literal may become a STRING) and strict otherwise (only numeric
//!   widening: INT, BIGINT, DECIMAL, DOUBLE);
//! - elements of another type are then cast to the common one.
//!
//! A list that cannot agree is an error in ksqlDB's words. Lists holding arrays, maps or
//! structs are left to DataFusion's own coercion.

use crate::catalog::types::SqlType;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Expr, ExprSchemable};

/// What an element is, for the rules: its type (None for a NULL literal), and its text when
/// it is a string literal, or whether it is another literal.
struct Element {
    ty: Option<SqlType>,
    text: Option<String>,
    literal: bool,
}

/// `args` made one type, or None when the rules do not apply (nested types, types ksqlDB
/// lacks, or nothing to change).
pub fn coerce(args: &[Expr], schema: &DFSchema) -> Result<Option<Vec<Expr>>> {
    let mut elements = Vec::with_capacity(args.len());
    for a in args {
        let dt = a.get_type(schema)?;
        let ty = match dt {
            DataType::Null => None,
            _ => match SqlType::from_arrow(&dt) {
                Some(SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)) | None => {
                    return Ok(None)
                }
                Some(t) => Some(t),
            },
        };
        let (text, literal) = literal_of(a);
        elements.push(Element { ty, text, literal });
    }
    let Some(common) = common_type(&elements)? else {
        return Ok(None);
    };
    if elements
        .iter()
        .all(|e| e.ty.as_ref().is_none_or(|t| *t == common))
    {
        return Ok(None);
    }
    let target = common.to_arrow();
    let mut out = Vec::with_capacity(args.len());
    for (a, e) in args.iter().zip(&elements) {
        out.push(match &e.ty {
            Some(t) if *t != common => cast(a.clone(), &target)?,
            _ => a.clone(),
        });
    }
    Ok(Some(out))
}

/// A string literal's text, and whether the expression is a literal (a number may come
/// wrapped in the CAST that types it).
fn literal_of(e: &Expr) -> (Option<String>, bool) {
    match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
            (Some(s.clone()), true)
        }
        Expr::Literal(..) => (None, true),
        Expr::Cast(c) => (None, matches!(c.expr.as_ref(), Expr::Literal(..))),
        Expr::ScalarFunction(f) if f.name() == "cast" => {
            (None, matches!(f.args.first(), Some(Expr::Literal(..))))
        }
        _ => (None, false),
    }
}

fn common_type(elements: &[Element]) -> Result<Option<SqlType>> {
    let mut common: Option<SqlType> = None;
    for e in elements {
        let Some(ty) = &e.ty else { continue };
        let Some(target) = &common else {
            common = Some(ty.clone());
            continue;
        };
        if let Some(text) = &e.text {
            if is_number(target) {
                common = Some(number_from_text(text, target)?);
                continue;
            }
            if *target == SqlType::Boolean {
                if boolean_exact(text).is_none() {
                    return Err(invalid_syntax(text, target));
                }
                continue;
            }
        }
        let found = can_coerce(ty, target, e.literal).or_else(|| can_coerce(target, ty, e.literal));
        common = Some(found.ok_or_else(|| {
            crate::error::ksql_plan_error(format!(
                "operator does not exist: {target} = {ty} ({})\nHint: You might need to add explicit type casts.",
                e.text.as_deref().unwrap_or("expression")
            ))
        })?);
    }
    Ok(common)
}

fn is_number(t: &SqlType) -> bool {
    matches!(
        t,
        SqlType::Int | SqlType::Bigint | SqlType::Decimal(..) | SqlType::Double
    )
}

/// The coercer's rules (`DefaultSqlValueCoercer`): the type both `from` and `to` fit, if
/// `from` may become `to`; `lax` (literals) also turns strings and scalars into each other.
fn can_coerce(from: &SqlType, to: &SqlType, lax: bool) -> Option<SqlType> {
    use SqlType::*;
    if from == to {
        return Some(to.clone());
    }
    match (from, to) {
        (Int | Bigint | Decimal(..), Decimal(..)) => Some(widen(from, to)),
        (Int, Bigint) | (Int | Bigint | Decimal(..), Double) => Some(to.clone()),
        (String, Timestamp | Time | Date | Bytes) => Some(to.clone()),
        (Boolean | Int | Bigint | Decimal(..) | Double | Timestamp | Time | Date, String)
            if lax =>
        {
            Some(String)
        }
        (String, Boolean | Int | Bigint | Decimal(..) | Double) if lax => Some(to.clone()),
        _ => None,
    }
}

/// `DecimalUtil.widen`: the decimal that holds both (an INT is DECIMAL(10, 0), a BIGINT
/// DECIMAL(19, 0)).
fn widen(a: &SqlType, b: &SqlType) -> SqlType {
    let digits = |t: &SqlType| -> (i16, i16) {
        match t {
            SqlType::Int => (10, 0),
            SqlType::Bigint => (19, 0),
            SqlType::Decimal(p, s) => (i16::from(*p), i16::from(*s)),
            _ => (0, 0),
        }
    };
    let ((p1, s1), (p2, s2)) = (digits(a), digits(b));
    let scale = s1.max(s2);
    let precision = (p1 - s1).max(p2 - s2) + scale;
    SqlType::Decimal(precision.clamp(1, 76) as u8, scale.clamp(0, 76) as i8)
}

/// The type a string literal among numbers of type `target` makes the list
/// (`resolveCommonNumericTypeFromStringLiteral`).
fn number_from_text(text: &str, target: &SqlType) -> Result<SqlType> {
    let source = text_number_type(text).ok_or_else(|| invalid_syntax(text, target))?;
    Ok(match (&source, target) {
        (SqlType::Double, _) | (_, SqlType::Double) => SqlType::Double,
        (SqlType::Decimal(..), _) | (_, SqlType::Decimal(..)) => widen(&source, target),
        (SqlType::Int, _) => target.clone(),
        _ => source,
    })
}

/// A number's type as ksqlDB reads it from text: INT or BIGINT when it is whole and written
/// without a point or exponent, else the DECIMAL of its digits.
fn text_number_type(text: &str) -> Option<SqlType> {
    let t = text.trim();
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().ok()?),
        None => (t, 0),
    };
    let unsigned = mantissa.strip_prefix(['-', '+']).unwrap_or(mantissa);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_ok(whole) || !digits_ok(fraction) {
        return None;
    }
    if !t.contains(['.', 'e', 'E']) {
        if let Ok(v) = t.parse::<i64>() {
            return Some(if v > i64::from(i32::MIN) && v < i64::from(i32::MAX) {
                SqlType::Int
            } else {
                SqlType::Bigint
            });
        }
    }
    // BigDecimal's precision and scale: the digits without leading zeros, the exponent
    // moving the point.
    let digits: String = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    let precision = significant.len().max(1) as i32;
    let scale = fraction.len() as i32 - exponent;
    let (p, s) = if scale < 0 {
        (precision - scale, 0)
    } else {
        (precision.max(scale), scale)
    };
    Some(SqlType::Decimal(p.clamp(1, 76) as u8, s.clamp(0, 76) as i8))
}

/// `SqlBooleans.parseBooleanExact`: a prefix of `true` or `yes`, or of `false` or `no`.
fn boolean_exact(text: &str) -> Option<bool> {
    let s = text.trim();
    let prefix_of = |word: &str| {
        !s.is_empty() && s.len() <= word.len() && word[..s.len()].eq_ignore_ascii_case(s)
    };
    if prefix_of("true") || prefix_of("yes") {
        Some(true)
    } else if prefix_of("false") || prefix_of("no") {
        Some(false)
    } else {
        None
    }
}

fn invalid_syntax(text: &str, target: &SqlType) -> datafusion::error::DataFusionError {
    let base = match target {
        SqlType::Decimal(..) => "DECIMAL".to_string(),
        other => other.to_string(),
    };
    crate::error::ksql_plan_error(format!("invalid input syntax for type {base}: \"{text}\"."))
}

/// `e` cast to `to` with ksqlDB's CAST.
fn cast(e: Expr, to: &DataType) -> Result<Expr> {
    let target = Expr::Literal(ScalarValue::try_from(to)?, None);
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
        crate::functions::cast::udf(),
        vec![e, target],
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_have_the_number_types_ksqldb_reads() {
        assert_eq!(text_number_type("14"), Some(SqlType::Int));
        assert_eq!(text_number_type("3000000000"), Some(SqlType::Bigint));
        assert_eq!(text_number_type("14.1230"), Some(SqlType::Decimal(6, 4)));
        assert_eq!(text_number_type("0.5"), Some(SqlType::Decimal(1, 1)));
        assert_eq!(text_number_type("2e1"), Some(SqlType::Decimal(2, 0)));
        assert_eq!(text_number_type("hello"), None);
        assert_eq!(text_number_type("1.2.3"), None);
    }

    #[test]
    fn decimals_widen_to_hold_both() {
        assert_eq!(
            widen(&SqlType::Int, &SqlType::Decimal(2, 1)),
            SqlType::Decimal(11, 1)
        );
        assert_eq!(
            widen(&SqlType::Decimal(5, 4), &SqlType::Decimal(6, 1)),
            SqlType::Decimal(9, 4)
        );
    }

    #[test]
    fn strings_among_scalars_follow_the_lax_rules() {
        use SqlType::*;
        assert_eq!(can_coerce(&Int, &String, true), Some(String));
        assert_eq!(can_coerce(&Int, &String, false), None);
        assert_eq!(can_coerce(&Int, &Bigint, false), Some(Bigint));
        assert_eq!(can_coerce(&Double, &Int, false), None);
        assert_eq!(boolean_exact("no"), Some(false));
        assert_eq!(boolean_exact("Y"), Some(true));
        assert_eq!(boolean_exact("maybe"), None);
        assert_eq!(
            number_from_text("14.1230", &Int).unwrap(),
            Decimal(14, 4),
            "DECIMAL(10, 0) and DECIMAL(6, 4)"
        );
        assert_eq!(number_from_text("7", &Bigint).unwrap(), Bigint);
        assert_eq!(number_from_text("7", &Double).unwrap(), Double);
        assert!(number_from_text("hello", &Int).is_err());
    }
}
