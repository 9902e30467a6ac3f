//! ksqlDB's "magic" timestamps (`StatementRewriteForMagicPseudoTimestamp`): a string literal
//! compared with ROWTIME, WINDOWSTART or WINDOWEND (or a BETWEEN bound of one) is a point in
//! time, rewritten to its epoch milliseconds before typing. The text may be partial
//! (`PartialStringToTimestampParser`): `2020`, `2020-05`, `2020-05-26`,
//! `2020-05-26T23`, `2020-05-26T23:59:58.001`, each with an optional `+HHMM` / `-HHMM`
//! offset or `Z` after the time; missing parts are the start of their period, UTC by default.

use crate::sql::ast::Expr;
use crate::sql::column_name;
use chrono::{FixedOffset, NaiveDateTime, TimeZone};
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, BinaryOperator, Value, ValueWithSpan,
};
use std::ops::ControlFlow;

const TIME_PATTERN: &str = "HH:mm:ss.SSS";

/// Rewrites every magic timestamp in `expr`; a text that is not a timestamp is left as it is
/// (typing then refuses the comparison).
pub fn rewrite(expr: &mut Expr) {
    let _ = visit_expressions_mut(expr, |e: &mut Expr| {
        match e {
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                if is_time_column(left) {
                    to_millis(right);
                } else if is_time_column(right) {
                    to_millis(left);
                }
            }
            Expr::Between {
                expr, low, high, ..
            } if is_time_column(expr) => {
                to_millis(low);
                to_millis(high);
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

fn is_comparison(op: &BinaryOperator) -> bool {
    use BinaryOperator::*;
    matches!(op, Eq | NotEq | Lt | LtEq | Gt | GtEq)
}

fn is_time_column(e: &Expr) -> bool {
    column_name(e).is_some_and(|n| matches!(n.as_str(), "ROWTIME" | "WINDOWSTART" | "WINDOWEND"))
}

fn to_millis(e: &mut Expr) {
    let Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(text),
        ..
    }) = e
    else {
        return;
    };
    if let Some(ms) = parse(text) {
        *e = Expr::Value(ValueWithSpan::from(Value::Number(ms.to_string(), false)));
    }
}

/// Epoch milliseconds of a partial timestamp, as `PartialStringToTimestampParser` reads it.
pub fn parse(text: &str) -> Option<i64> {
    let (date, time, zone) = match text.split_once('T') {
        Some((date, rest)) => {
            // The offset first: the time before it may be partial (`03:00-0700`); `Z` is
            // UTC.
            let rest = rest.strip_suffix('Z').unwrap_or(rest);
            let zone_at = rest.find(['+', '-']).unwrap_or(rest.len());
            let (time, zone) = rest.split_at(zone_at);
            (date.to_string(), complete_time(time), zone.to_string())
        }
        None => (complete_date(text), complete_time(""), String::new()),
    };
    let local =
        NaiveDateTime::parse_from_str(&format!("{date}T{time}"), "%Y-%m-%dT%H:%M:%S%.3f").ok()?;
    let offset = if zone.trim().is_empty() {
        FixedOffset::east_opt(0)?
    } else {
        offset(&zone)?
    };
    Some(
        offset
            .from_local_datetime(&local)
            .single()?
            .timestamp_millis(),
    )
}

/// Days since the epoch of a partial date (`2020`, `2020-05`, `2020-05-26`), as ksqlDB's
/// `SqlTimeTypes.parseDate` reads it for CAST(... AS DATE).
pub fn parse_date(text: &str) -> Option<i32> {
    let date = chrono::NaiveDate::parse_from_str(&complete_date(text), "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// Milliseconds of the day of a partial time (`10`, `10:00`, `10:00:00`, `10:00:00.001`), as
/// `SqlTimeTypes.parseTime` reads it for CAST(... AS TIME).
pub fn parse_time(text: &str) -> Option<i32> {
    use chrono::Timelike;
    let t = chrono::NaiveTime::parse_from_str(&complete_time(text), "%H:%M:%S%.3f").ok()?;
    let ms = t.num_seconds_from_midnight() * 1000 + t.nanosecond() / 1_000_000;
    i32::try_from(ms).ok()
}

/// `+HHMM`, `+HH:MM` or `+HH` (and `-`), as Java's `ZoneId.of` takes them.
fn offset(zone: &str) -> Option<FixedOffset> {
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

fn complete_date(date: &str) -> String {
    match date.split('-').count() {
        1 => format!("{date}-01-01"),
        2 => format!("{date}-01"),
        _ => date.to_string(),
    }
}

fn complete_time(time: &str) -> String {
    if time.len() >= TIME_PATTERN.len() {
        return time.to_string();
    }
    let rest: String = TIME_PATTERN[time.len()..]
        .chars()
        .map(|c| if c.is_ascii_alphabetic() { '0' } else { c })
        .collect();
    format!("{time}{rest}")
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn partial_timestamps_are_the_start_of_their_period() {
        assert_eq!(parse("1970"), Some(0));
        assert_eq!(parse("1970-01-02"), Some(86_400_000));
        assert_eq!(parse("1970-01-01T01"), Some(3_600_000));
        // A short time is padded with the pattern's zeros: `.5` reads as `.500`.
        assert_eq!(parse("1970-01-01T00:00:01.5"), Some(1500));
        assert_eq!(parse("1970-01-01T00:00:00.001"), Some(1));
        assert_eq!(parse("2018-01-01T00:00:00.001"), Some(1_514_764_800_001));
    }

    #[test]
    fn partial_dates_and_times_are_the_start_of_their_period() {
        use super::{parse_date, parse_time};
        assert_eq!(parse_date("1970-01-10"), Some(9));
        assert_eq!(parse_date("1970-01"), Some(0));
        assert_eq!(parse_date("1990"), Some(7305));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("foo"), None);
        assert_eq!(parse_date("1970-13"), None);
        assert_eq!(parse_time("10:00"), Some(36_000_000));
        assert_eq!(parse_time("10:00:00.001"), Some(36_000_001));
        assert_eq!(parse_time("10"), Some(36_000_000));
        assert_eq!(parse_time("25:00"), None);
        assert_eq!(parse_time("woof"), None);
    }

    #[test]
    fn offsets_shift_the_instant() {
        assert_eq!(parse("1970-01-01T01:00:00+0100"), Some(0));
        assert_eq!(parse("1970-01-01T00:00:00-0130"), Some(5_400_000));
        assert_eq!(
            parse("2019-01-01T00:00:00+0445"),
            Some(1_546_300_800_000 - (4 * 3600 + 45 * 60) * 1000)
        );
        assert_eq!(parse("1970-01-01T00:00:00+99"), None);
        // A partial time with an offset (ksqlDB's `SqlTimeTypes` example).
        assert_eq!(parse("2019-03-17T03:00-0700"), Some(1_552_816_800_000));
        assert_eq!(parse("2019-03-17T10:00:00"), Some(1_552_816_800_000));
        assert_eq!(parse("2019-03-17 03:00"), None);
        assert_eq!(parse("2022-04-28T21:44:47.943Z"), Some(1_651_182_287_943));
        assert_eq!(parse("not a time"), None);
    }
}
