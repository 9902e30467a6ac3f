//! QTT's matching rules for expected and actual records.

use serde_json::Value;

fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_integral(t: &str) -> bool {
    !t.contains(['.', 'e', 'E'])
}

/// Whether `actual` matches `expected`, QTT-style: objects with the same number of fields
/// (looked up by exact then upper-cased name; a missing one is null), arrays element-wise, integers exactly, other
/// numbers within 1e-6 (decimal scale is checked where the column type is known, by the
/// caller), a string matching a number's text.
pub fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter().all(|(k, ev)| {
                    // A field the actual record lacks reads as null (ksqlDB's
                    // ExpectedRecordComparator gets it from the struct or map by name).
                    let av = a.get(k).or_else(|| a.get(&k.to_uppercase()));
                    matches(ev, av.unwrap_or(&Value::Null))
                })
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a))
        }
        (Value::Number(_), Value::Number(_)) => {
            let (et, at) = (
                number_text(expected).unwrap_or_default(),
                number_text(actual).unwrap_or_default(),
            );
            match (is_integral(&et), is_integral(&at)) {
                (true, true) => et
                    .parse::<i128>()
                    .ok()
                    .is_some_and(|e| Some(e) == at.parse::<i128>().ok()),
                // An integral expectation does not match a fractional value: `1` is not `1.0`.
                // A double written with an exponent (`-1.0E12`) is compared as a number.
                (true, false) if at.contains(['e', 'E']) => {
                    matches!((et.parse::<f64>(), at.parse::<f64>()), (Ok(e), Ok(a)) if e == a)
                }
                (true, false) => false,
                _ => match (et.parse::<f64>(), at.parse::<f64>()) {
                    (Ok(e), Ok(a)) => e == a || (e - a).abs() < 1e-6,
                    _ => false,
                },
            }
        }
        (Value::String(e), Value::Number(n)) => e
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(e, a)| (e - a).abs() < 1e-9),
        _ => expected == actual,
    }
}

/// Decimal values must match with their scale: `1.50` is not `1.5`.
pub fn decimal_matches(expected: &Value, actual: &Value) -> bool {
    match (number_text(expected), number_text(actual)) {
        (Some(e), Some(a)) => e == a,
        _ => matches(expected, actual),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn qtt_matching_rules() {
        assert!(matches(
            &json!({"a": 1, "B": [1.5]}),
            &json!({"A": 1, "B": [1.5000000001]})
        ));
        assert!(!matches(&json!({"A": 1}), &json!({"A": 1, "B": 2})));
        // A field the record lacks is null, as long as the field counts agree.
        assert!(matches(&json!({"HEX": null}), &json!({"ASCII": null})));
        assert!(!matches(&json!({"HEX": 1}), &json!({"ASCII": 1})));
        assert!(!matches(
            &json!({"HEX": null}),
            &json!({"ASCII": null, "B": null})
        ));
        assert!(!matches(&json!(1), &json!(1.0)));
        // A double in exponent form is a number like any other.
        let double: serde_json::Value = serde_json::from_str("-1.0E12").unwrap();
        assert!(matches(&json!(-1000000000000i64), &double));
        assert!(!matches(&json!(-1000000000001i64), &double));
        assert!(matches(&json!(1.0), &json!(1.0)));
        assert!(!matches(&json!(1), &json!(2)));
        assert!(decimal_matches(
            &serde_json::from_str("1.50").unwrap(),
            &serde_json::from_str("1.50").unwrap()
        ));
        assert!(!decimal_matches(
            &serde_json::from_str("1.50").unwrap(),
            &serde_json::from_str("1.5").unwrap()
        ));
    }
}
