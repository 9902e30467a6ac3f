//! DATE and TIME functions: UNIX_DATE, FROM_DAYS, FROM_UNIXTIME and UNIX_TIMESTAMP
//! (milliseconds), DATEADD/DATESUB, TIMEADD/TIMESUB, TIMESTAMPADD/TIMESTAMPSUB, CONVERT_TZ,
//! FORMAT_/PARSE_DATE, FORMAT_/PARSE_TIME, DATETOSTRING/STRINGTODATE (days since the epoch),
//! with Java-style patterns. Text a pattern cannot parse gives NULL, as in ksqlDB.

use super::datetime::JavaPattern;
use super::row::{int, row_function, string, text, volatile_row_function, Arg};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::ScalarUDF;

const DAY_MS: i64 = 86_400_000;

pub fn udfs() -> Vec<ScalarUDF> {
    use Arg::*;
    vec![
        volatile_row_function(
            "unix_date",
            &[&[], &[Date]],
            |_| DataType::Int32,
            |a, _| {
                Ok(ScalarValue::Int32(match a.first() {
                    Some(d) => date(d),
                    None => Some(now_ms().div_euclid(DAY_MS) as i32),
                }))
            },
        ),
        row_function("from_unixtime", &[&[Long]], timestamp, |a, _| {
            Ok(ScalarValue::TimestampMillisecond(int(&a[0]), None))
        }),
        volatile_row_function(
            "unix_timestamp",
            &[&[], &[Timestamp]],
            |_| DataType::Int64,
            |a, _| {
                Ok(ScalarValue::Int64(match a.first() {
                    Some(ScalarValue::TimestampMillisecond(t, _)) => *t,
                    Some(_) => None,
                    None => Some(now_ms()),
                }))
            },
        ),
        row_function(
            "from_days",
            &[&[Int]],
            |_| DataType::Date32,
            |a, _| Ok(ScalarValue::Date32(int(&a[0]).map(|d| d as i32))),
        ),
        row_function(
            "dateadd",
            &[&[Str, Long, Date]],
            |_| DataType::Date32,
            |a, _| shift_date(a, 1),
        ),
        row_function(
            "datesub",
            &[&[Str, Long, Date]],
            |_| DataType::Date32,
            |a, _| shift_date(a, -1),
        ),
        row_function(
            "timestampadd",
            &[&[Str, Long, Timestamp]],
            timestamp,
            |a, _| shift_timestamp(a, 1),
        ),
        row_function(
            "timestampsub",
            &[&[Str, Long, Timestamp]],
            timestamp,
            |a, _| shift_timestamp(a, -1),
        ),
        row_function("timeadd", &[&[Str, Long, Time]], time_type, |a, _| {
            shift_time(a, 1)
        }),
        row_function("timesub", &[&[Str, Long, Time]], time_type, |a, _| {
            shift_time(a, -1)
        }),
        row_function(
            "convert_tz",
            &[&[Timestamp, Str, Str]],
            timestamp,
            |a, _| {
                let ts = match &a[0] {
                    ScalarValue::TimestampMillisecond(t, _) => *t,
                    _ => None,
                };
                let (Some(ts), Some(from), Some(to)) = (ts, text(&a[1]), text(&a[2])) else {
                    return Ok(ScalarValue::TimestampMillisecond(None, None));
                };
                let (from, to) = match (super::datetime::zone(from), super::datetime::zone(to)) {
                    (Ok(f), Ok(t)) => (f, t),
                    (Err(e), _) | (_, Err(e)) => return exec_err!("{e}"),
                };
                // As ksqlDB: the instant moved by the difference of the two zones' offsets
                // at that instant.
                let at = chrono::DateTime::from_timestamp_millis(ts)
                    .unwrap_or_default()
                    .naive_utc();
                let offset_ms = |z: &super::datetime::Zone| i64::from(z.offset_seconds(&at)) * 1000;
                let shifted = Some(ts + offset_ms(&to) - offset_ms(&from));
                Ok(ScalarValue::TimestampMillisecond(shifted, None))
            },
        ),
        row_function(
            "format_date",
            &[&[Date, Str]],
            |_| DataType::Utf8,
            |a, _| format(date(&a[0]).map(|d| d as i64 * DAY_MS), &a[1]),
        ),
        row_function(
            "datetostring",
            &[&[Int, Str]],
            |_| DataType::Utf8,
            |a, _| format(int(&a[0]).map(|d| d * DAY_MS), &a[1]),
        ),
        row_function(
            "format_time",
            &[&[Time, Str]],
            |_| DataType::Utf8,
            |a, _| format(time(&a[0]), &a[1]),
        ),
        row_function(
            "parse_date",
            &[&[Str, Str]],
            |_| DataType::Date32,
            |a, _| {
                Ok(ScalarValue::Date32(
                    parse(a)?.map(|ms| ms.div_euclid(DAY_MS) as i32),
                ))
            },
        ),
        row_function(
            "stringtodate",
            &[&[Str, Str]],
            |_| DataType::Int32,
            |a, _| {
                Ok(ScalarValue::Int32(
                    parse(a)?.map(|ms| ms.div_euclid(DAY_MS) as i32),
                ))
            },
        ),
        row_function(
            "parse_time",
            &[&[Str, Str]],
            |_| DataType::Time32(TimeUnit::Millisecond),
            |a, _| {
                Ok(ScalarValue::Time32Millisecond(
                    parse(a)?.map(|ms| ms.rem_euclid(DAY_MS) as i32),
                ))
            },
        ),
    ]
}

fn time_type(_: &[DataType]) -> DataType {
    DataType::Time32(TimeUnit::Millisecond)
}

/// TIMEADD / TIMESUB: a time of day moved, wrapping around midnight.
fn shift_time(a: &[ScalarValue], sign: i64) -> Result<ScalarValue> {
    let (Some(delta), Some(t)) = (offset(a, sign)?, time(&a[2])) else {
        return Ok(ScalarValue::Time32Millisecond(None));
    };
    Ok(ScalarValue::Time32Millisecond(Some(
        (t + delta).rem_euclid(DAY_MS) as i32,
    )))
}

fn timestamp(_: &[DataType]) -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn date(v: &ScalarValue) -> Option<i32> {
    match v {
        ScalarValue::Date32(d) => *d,
        _ => None,
    }
}

fn time(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Time32Millisecond(t) => t.map(i64::from),
        _ => None,
    }
}

/// A Java `TimeUnit` in milliseconds.
fn unit_ms(unit: &str) -> Result<i64> {
    Ok(match unit.to_ascii_uppercase().trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => DAY_MS,
        _ => {
            return exec_err!(
                "Unknown time unit {unit}: use MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS"
            )
        }
    })
}

/// `(unit, interval, value)` as milliseconds to add (`sign` -1 subtracts); `None` for NULLs.
fn offset(a: &[ScalarValue], sign: i64) -> Result<Option<i64>> {
    let (Some(unit), Some(n)) = (text(&a[0]), int(&a[1])) else {
        return Ok(None);
    };
    Ok(unit_ms(unit)?
        .checked_mul(n)
        .and_then(|ms| ms.checked_mul(sign)))
}

fn shift_date(a: &[ScalarValue], sign: i64) -> Result<ScalarValue> {
    let (Some(delta), Some(d)) = (offset(a, sign)?, date(&a[2])) else {
        return Ok(ScalarValue::Date32(None));
    };
    let ms = d as i64 * DAY_MS + delta;
    Ok(ScalarValue::Date32(Some(ms.div_euclid(DAY_MS) as i32)))
}

fn shift_timestamp(a: &[ScalarValue], sign: i64) -> Result<ScalarValue> {
    let ts = match &a[2] {
        ScalarValue::TimestampMillisecond(t, _) => *t,
        _ => None,
    };
    let (Some(delta), Some(ts)) = (offset(a, sign)?, ts) else {
        return Ok(ScalarValue::TimestampMillisecond(None, None));
    };
    Ok(ScalarValue::TimestampMillisecond(
        ts.checked_add(delta),
        None,
    ))
}

/// Milliseconds since the epoch (UTC) in a pattern.
fn format(ms: Option<i64>, pattern: &ScalarValue) -> Result<ScalarValue> {
    let (Some(ms), Some(p)) = (ms, text(pattern)) else {
        return Ok(string(None));
    };
    let pattern = match JavaPattern::new(p) {
        Ok(p) => p,
        Err(e) => return exec_err!("{e}"),
    };
    Ok(string(
        pattern.format_millis(ms, super::datetime::Zone::UTC),
    ))
}

/// `(text, pattern)` read as milliseconds since the epoch (UTC); NULL when it does not parse.
fn parse(a: &[ScalarValue]) -> Result<Option<i64>> {
    let (Some(s), Some(p)) = (text(&a[0]), text(&a[1])) else {
        return Ok(None);
    };
    let pattern = match JavaPattern::new(p) {
        Ok(p) => p,
        Err(e) => return exec_err!("{e}"),
    };
    Ok(pattern.parse_millis(s, super::datetime::Zone::UTC).ok())
}

#[cfg(test)]
mod tests {
    use crate::functions::row::testing::eval;

    #[test]
    fn days_dates_and_epoch_milliseconds() {
        assert_eq!(eval("FROM_UNIXTIME(1500)").unwrap(), "1500");
        assert_eq!(eval("UNIX_TIMESTAMP(FROM_UNIXTIME(1500))").unwrap(), "1500");
        assert_eq!(eval("FROM_UNIXTIME(NULL)").unwrap(), "null");
        assert_eq!(eval("UNIX_DATE(FROM_DAYS(100))").unwrap(), "100");
        assert_eq!(eval("FROM_DAYS(-10)").unwrap(), "-10");
        assert_eq!(eval("FROM_DAYS(NULL)").unwrap(), "null");
        assert!(eval("UNIX_DATE()").unwrap().parse::<i64>().unwrap() > 20_000);
    }

    #[test]
    fn adds_and_subtracts_units() {
        assert_eq!(eval("DATEADD(DAYS, 10, FROM_DAYS(10))").unwrap(), "20");
        assert_eq!(eval("DATESUB('DAYS', 5, FROM_DAYS(2))").unwrap(), "-3");
        assert_eq!(eval("DATEADD(HOURS, 25, FROM_DAYS(0))").unwrap(), "1");
        assert_eq!(eval("DATEADD(DAYS, NULL, FROM_DAYS(0))").unwrap(), "null");
        assert_eq!(
            eval("TIMESTAMPADD(MILLISECONDS, 10, FROM_UNIXTIME(10))").unwrap(),
            "20"
        );
        assert_eq!(
            eval("TIMESTAMPSUB(SECONDS, 1, FROM_UNIXTIME(10))").unwrap(),
            "-990"
        );
        assert!(eval("DATEADD('FORTNIGHTS', 1, FROM_DAYS(0))").is_err());
        assert!(eval("DATEADD(FROM_DAYS(0), 5, FROM_DAYS(0))")
            .unwrap_err()
            .contains("Function 'dateadd' does not accept parameters (DATE, INTEGER, DATE)."));
    }

    #[test]
    fn times_wrap_and_zones_convert() {
        assert_eq!(
            eval("TIMEADD(HOURS, 2, PARSE_TIME('23:00', 'HH:mm'))").unwrap(),
            "3600000"
        );
        assert_eq!(
            eval("TIMESUB(MINUTES, 1, PARSE_TIME('00:00', 'HH:mm'))").unwrap(),
            "86340000"
        );
        assert_eq!(
            eval("TIMEADD(HOURS, NULL, PARSE_TIME('00:00', 'HH:mm'))").unwrap(),
            "null"
        );
        // 12:00 in UTC is 05:00 in Los Angeles (summer: UTC-7): the instant moves back 7 hours,
        // and forward again the other way.
        assert_eq!(
            eval("CONVERT_TZ(FROM_UNIXTIME(1526040000000), 'UTC', 'America/Los_Angeles')").unwrap(),
            "1526014800000"
        );
        assert_eq!(
            eval("CONVERT_TZ(FROM_UNIXTIME(1526040000000), 'America/Los_Angeles', 'UTC')").unwrap(),
            "1526065200000"
        );
        assert!(eval("CONVERT_TZ(FROM_UNIXTIME(0), 'Mars/Base', 'UTC')").is_err());
    }

    #[test]
    fn formats_and_parses() {
        assert_eq!(
            eval("DATETOSTRING(18993, 'dd-MMM-yyyy')").unwrap(),
            r#""01-Jan-2022""#
        );
        assert_eq!(
            eval("STRINGTODATE('2018-05-11', 'yyyy-MM-dd')").unwrap(),
            "17662"
        );
        assert_eq!(eval("STRINGTODATE('foo', 'yyyyMMdd')").unwrap(), "null");
        assert_eq!(
            eval("FORMAT_DATE(FROM_DAYS(17662), 'dd/MM/yyyy')").unwrap(),
            r#""11/05/2018""#
        );
        assert_eq!(
            eval("PARSE_DATE('11/05/2018', 'dd/MM/yyyy')").unwrap(),
            "17662"
        );
        assert_eq!(
            eval("FORMAT_TIME(PARSE_TIME('00:20:34', 'HH:mm:ss'), 'HHmmss''AAAAA''')").unwrap(),
            r#""002034AAAAA""#
        );
        assert_eq!(eval("FORMAT_TIME(NULL, 'HH')").unwrap(), "null");
    }
}
