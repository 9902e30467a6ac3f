//! Timestamps as text with Java `DateTimeFormatter` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSX`), as
//! ksqlDB uses them: PARSE_TIMESTAMP, FORMAT_TIMESTAMP, STRINGTOTIMESTAMP, TIMESTAMPTOSTRING and
//! the TIMESTAMP_FORMAT of a source's timestamp column.

use chrono::format::{parse, Parsed, StrftimeItems};
use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// A Java pattern translated to chrono's strftime syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    strftime: String,
    /// The pattern accepts `Z` for UTC where an offset goes (`X`).
    zulu: bool,
}

impl JavaPattern {
    pub fn new(pattern: &str) -> Result<Self, String> {
        let mut out = String::new();
        let mut zulu = false;
        let chars: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // Quoted literal text; '' is a single quote.
                if chars.get(i + 1) == Some(&'\'') {
                    out.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            out.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    push_literal(&mut out, chars[i]);
                    i += 1;
                }
                i += 1;
                continue;
            }
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            i += n;
            let spec = match (c, n) {
                ('y' | 'u', 2) => "%y",
                ('y' | 'u', _) => "%Y",
                // One letter is the number without padding, as Java writes it.
                ('M', 1) => "%-m",
                ('M', 2) => "%m",
                ('M', 3) => "%b",
                ('M', _) => "%B",
                ('d', 1) => "%-d",
                ('d', _) => "%d",
                ('D', 1 | 2) => "%-j",
                ('D', _) => "%j",
                ('H', 1) => "%-H",
                ('H', _) => "%H",
                ('h', 1) => "%-I",
                ('h', _) => "%I",
                ('k', _) => "%k",
                ('m', 1) => "%-M",
                ('m', _) => "%M",
                ('s', 1) => "%-S",
                ('s', _) => "%S",
                ('S', 1..=3) => "%3f",
                ('S', 4..=6) => "%6f",
                ('S', _) => "%9f",
                ('a', _) => "%p",
                ('E', 1..=3) => "%a",
                ('E', _) => "%A",
                ('X', 1) => {
                    zulu = true;
                    "%z"
                }
                ('X', _) => {
                    zulu = true;
                    "%:z"
                }
                ('x' | 'Z', 1 | 2) => "%z",
                ('x' | 'Z', _) => "%:z",
                ('z' | 'V' | 'O', _) => "%Z",
                (c, _) if c.is_ascii_alphabetic() => {
                    return Err(format!("Unknown pattern letter: {c}"))
                }
                (c, n) => {
                    for _ in 0..n {
                        push_literal(&mut out, c);
                    }
                    continue;
                }
            };
            out.push_str(spec);
        }
        Ok(JavaPattern {
            strftime: out,
            zulu,
        })
    }

    /// Parses text to epoch milliseconds; a pattern without an offset reads the time in `zone`.
    pub fn parse_millis(&self, text: &str, zone: Tz) -> Result<i64, String> {
        let text = if self.zulu && text.ends_with('Z') {
            format!("{}+0000", &text[..text.len() - 1])
        } else {
            text.to_string()
        };
        let fmt = if self.zulu {
            self.strftime.replace("%:z", "%#z").replace("%z", "%#z")
        } else {
            self.strftime.clone()
        };
        let mut parsed = Parsed::new();
        parse(&mut parsed, &text, StrftimeItems::new(&fmt))
            .map_err(|e| format!("Failed to parse '{text}' with pattern: {e}"))?;
        if parsed.hour_div_12().is_none() && parsed.hour_mod_12().is_none() {
            let _ = parsed.set_hour(0);
        }
        if parsed.minute().is_none() {
            let _ = parsed.set_minute(0);
        }
        if parsed.year().is_none() && parsed.year_mod_100().is_none() {
            let _ = parsed.set_year(1970);
        }
        if parsed.month().is_none() && parsed.ordinal().is_none() {
            let _ = parsed.set_month(1);
        }
        if parsed.day().is_none() && parsed.ordinal().is_none() {
            let _ = parsed.set_day(1);
        }
        let local = parsed
            .to_naive_datetime_with_offset(0)
            .map_err(|e| format!("Failed to parse '{text}': {e}"))?;
        // A zone name in the text (`zzz`: `PST`, `Europe/Paris`) is the zone, with its rules.
        let zone = if fmt.contains("%Z") {
            named_zone(&text).unwrap_or(zone)
        } else {
            zone
        };
        let utc = match parsed.offset() {
            Some(off) => local - chrono::Duration::seconds(off as i64),
            None => zone
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.naive_utc())
                .ok_or_else(|| format!("'{text}' does not exist in time zone {zone}"))?,
        };
        Ok(utc.and_utc().timestamp_millis())
    }

    pub fn format_millis(&self, millis: i64, zone: Tz) -> Option<String> {
        let t: DateTime<Utc> = DateTime::from_timestamp_millis(millis)?;
        let local = t.with_timezone(&zone);
        let mut fmt = self.strftime.clone();
        if self.zulu && local.offset().fix().local_minus_utc() == 0 {
            fmt = fmt.replace("%:z", "Z").replace("%z", "Z");
        }
        use std::fmt::Write;
        let mut s = String::new();
        write!(s, "{}", local.format(&fmt)).ok()?;
        Some(s)
    }
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// The zone a text names in its last word: an abbreviation Java knows (read as the region
/// it stands for, as Java does) or a region name.
fn named_zone(text: &str) -> Option<Tz> {
    let word = text
        .split(|c: char| !(c.is_ascii_alphabetic() || c == '/' || c == '_'))
        .rfind(|w| !w.is_empty())?;
    let region = match word.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "Z" | "UT" => "UTC",
        "PST" | "PDT" | "PT" => "America/Los_Angeles",
        "MST" | "MDT" => "America/Denver",
        "CST" | "CDT" => "America/Chicago",
        "EST" | "EDT" => "America/New_York",
        "BST" => "Europe/London",
        "CET" | "CEST" => "Europe/Paris",
        "EET" | "EEST" => "Europe/Athens",
        "IST" => "Asia/Kolkata",
        "JST" => "Asia/Tokyo",
        "AEST" | "AEDT" => "Australia/Sydney",
        _ => word,
    };
    region.parse::<Tz>().ok()
}

pub fn zone(name: &str) -> Result<Tz, String> {
    if name.eq_ignore_ascii_case("UTC") || name == "Z" {
        return Ok(Tz::UTC);
    }
    name.parse::<Tz>()
        .map_err(|_| format!("Unknown time zone: {name}"))
}

pub fn udfs() -> Vec<ScalarUDF> {
    [
        (
            "parse_timestamp",
            Kind::Parse,
            DataType::Timestamp(TimeUnit::Millisecond, None),
        ),
        ("stringtotimestamp", Kind::Parse, DataType::Int64),
        ("format_timestamp", Kind::Format, DataType::Utf8),
        ("timestamptostring", Kind::Format, DataType::Utf8),
    ]
    .into_iter()
    .map(|(name, kind, ret)| {
        ScalarUDF::from(TimeText {
            name,
            kind,
            ret,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    })
    .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Parse,
    Format,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TimeText {
    name: &'static str,
    kind: Kind,
    ret: DataType,
    signature: Signature,
}

impl ScalarUDFImpl for TimeText {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=3).contains(&args.len()) {
            return plan_err!("{} takes 2 or 3 arguments", self.name.to_uppercase());
        }
        let first = match self.kind {
            Kind::Parse => DataType::Utf8,
            Kind::Format if matches!(args[0], DataType::Timestamp(_, _)) => {
                DataType::Timestamp(TimeUnit::Millisecond, None)
            }
            Kind::Format => DataType::Int64,
        };
        Ok(std::iter::once(first)
            .chain(std::iter::repeat_n(DataType::Utf8, args.len() - 1))
            .collect())
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let n = args.number_rows;
        let patterns = arrays[1].as_string::<i32>();
        let zones = arrays.get(2).map(|a| a.as_string::<i32>());
        let mut cache: Option<(String, JavaPattern)> = None;
        let mut pattern_at = |i: usize| -> Result<JavaPattern> {
            let p = patterns.value(i);
            if let Some((k, v)) = &cache {
                if k == p {
                    return Ok(v.clone());
                }
            }
            let compiled = match JavaPattern::new(p) {
                Ok(c) => c,
                Err(e) => return exec_err!("{e}"),
            };
            cache = Some((p.to_string(), compiled.clone()));
            Ok(compiled)
        };
        let zone_at = |i: usize| -> Result<Tz> {
            match zones {
                Some(z) if !z.is_null(i) => zone(z.value(i)).or_else(|e| exec_err!("{e}")),
                _ => Ok(Tz::UTC),
            }
        };
        let null_args = |i: usize| arrays.iter().any(|a| a.is_null(i));
        let out: ArrayRef = match self.kind {
            Kind::Parse => {
                let text = arrays[0].as_string::<i32>();
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    if null_args(i) {
                        values.push(None);
                        continue;
                    }
                    match pattern_at(i)?.parse_millis(text.value(i), zone_at(i)?) {
                        Ok(v) => values.push(Some(v)),
                        Err(e) => return exec_err!("{e}"),
                    }
                }
                if self.ret == DataType::Int64 {
                    let mut b = Int64Builder::with_capacity(n);
                    b.extend(values);
                    Arc::new(b.finish())
                } else {
                    let mut b = TimestampMillisecondBuilder::with_capacity(n);
                    b.extend(values);
                    Arc::new(b.finish())
                }
            }
            Kind::Format => {
                let millis = cast(&arrays[0], &DataType::Int64)?;
                let millis = millis.as_primitive::<Int64Type>();
                let mut b = StringBuilder::with_capacity(n, n * 24);
                for i in 0..n {
                    if null_args(i) {
                        b.append_null();
                    } else {
                        b.append_option(pattern_at(i)?.format_millis(millis.value(i), zone_at(i)?));
                    }
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_parse_and_format() {
        let p = JavaPattern::new("yyyy-MM-dd'T'HH:mm:ss.SSSX").unwrap();
        let ms = p.parse_millis("2020-05-01T10:00:00.123Z", Tz::UTC).unwrap();
        assert_eq!(ms, 1_588_327_200_123);
        assert_eq!(
            p.format_millis(ms, Tz::UTC).unwrap(),
            "2020-05-01T10:00:00.123Z"
        );
        let p = JavaPattern::new("yy-MM-dd HH:mm:ssX").unwrap();
        assert_eq!(
            p.parse_millis("10-04-19 12:00:17Z", Tz::UTC).unwrap(),
            1_271_678_417_000
        );
        let p = JavaPattern::new("yyyy-MM-dd").unwrap();
        assert_eq!(p.parse_millis("1970-01-02", Tz::UTC).unwrap(), 86_400_000);
        // A zone abbreviation stands for its region, daylight saving included.
        let z = JavaPattern::new("yyyy-MM-dd'T'HH:mm:ss zzz").unwrap();
        assert_eq!(
            z.parse_millis("2018-05-11T21:58:33 PST", Tz::UTC).unwrap(),
            1_526_101_113_000
        );
        assert_eq!(
            z.parse_millis("2018-01-11T21:58:33 PST", Tz::UTC).unwrap(),
            1_515_736_713_000
        );
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let p = JavaPattern::new("yyyy-MM-dd HH:mm:ss zzz").unwrap();
        assert_eq!(p.format_millis(0, la).unwrap(), "1969-12-31 16:00:00 PST");
        // One letter: no padding when writing, one or two digits when reading.
        let short = JavaPattern::new("d/M/yyyy H:m:s").unwrap();
        assert_eq!(short.format_millis(0, Tz::UTC).unwrap(), "1/1/1970 0:0:0");
        assert_eq!(
            short.parse_millis("2/1/1970 10:5:7", Tz::UTC).unwrap(),
            86_400_000 + 36_307_000
        );
        assert!(JavaPattern::new("yyyy-qq").is_err());
    }
}
