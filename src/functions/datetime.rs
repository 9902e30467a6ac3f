//! Timestamps as text with Java `DateTimeFormatter` patterns (`yyyy-MM-dd'T'HH:mm:ss.SSSX`), as
//! ksqlDB uses them: PARSE_TIMESTAMP, FORMAT_TIMESTAMP, STRINGTOTIMESTAMP, TIMESTAMPTOSTRING and
//! the TIMESTAMP_FORMAT of a source's timestamp column.

use chrono::format::{parse, Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};
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

/// A Java pattern translated to chrono's strftime syntax, its items parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaPattern {
    strftime: String,
    /// The pattern accepts `Z` for UTC where an offset goes (`X`).
    zulu: bool,
    /// A zone name is part of the text (`zzz`).
    named_zone: bool,
    /// What reading uses (an `X` offset read as `+hh[:mm]`).
    read: Vec<Item<'static>>,
    /// What writing uses, and with a zero offset written `Z` (for `X`).
    write: Vec<Item<'static>>,
    write_utc: Vec<Item<'static>>,
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
        let items = |fmt: &str| {
            StrftimeItems::new(fmt)
                .parse_to_owned()
                .map_err(|e| format!("Invalid pattern '{pattern}': {e}"))
        };
        // A fraction after a dot reads with as many digits as it has (`ss.S` takes `09.2`).
        let mut read_fmt = out.clone();
        for digits in ["%3f", "%6f", "%9f"] {
            read_fmt = read_fmt.replace(&format!(".{digits}"), "%.f");
        }
        if zulu {
            read_fmt = read_fmt.replace("%:z", "%#z").replace("%z", "%#z");
        }
        let read = items(&read_fmt)?;
        let write_utc = if zulu {
            items(&out.replace("%:z", "Z").replace("%z", "Z"))?
        } else {
            items(&out)?
        };
        Ok(JavaPattern {
            named_zone: out.contains("%Z"),
            write: items(&out)?,
            write_utc,
            read,
            strftime: out,
            zulu,
        })
    }

    /// Parses text to epoch milliseconds; a pattern without an offset reads the time in `zone`.
    pub fn parse_millis(&self, text: &str, zone: Zone) -> Result<i64, String> {
        let text = if self.zulu && text.ends_with('Z') {
            format!("{}+0000", &text[..text.len() - 1])
        } else {
            text.to_string()
        };
        let mut parsed = Parsed::new();
        parse(&mut parsed, &text, self.read.iter())
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
        let zone = match self.named_zone.then(|| named_zone(&text)).flatten() {
            Some(named) => Zone::Region(named),
            None => zone,
        };
        let utc = match parsed.offset() {
            Some(off) => local - chrono::Duration::seconds(off as i64),
            None => zone
                .instant_of(&local)
                .ok_or_else(|| format!("'{text}' does not exist in time zone {zone}"))?,
        };
        Ok(utc.and_utc().timestamp_millis())
    }

    pub fn format_millis(&self, millis: i64, zone: Zone) -> Option<String> {
        let t: DateTime<Utc> = DateTime::from_timestamp_millis(millis)?;
        let items = if zone.offset_seconds(&t.naive_utc()) == 0 {
            &self.write_utc
        } else {
            &self.write
        };
        use std::fmt::Write;
        let mut s = String::new();
        match zone {
            Zone::Region(tz) => {
                let local = t.with_timezone(&tz);
                write!(s, "{}", local.format_with_items(items.iter())).ok()?;
            }
            Zone::Fixed(f) => {
                let local = t.with_timezone(&f);
                write!(s, "{}", local.format_with_items(items.iter())).ok()?;
            }
        }
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

/// A time zone as Java's `ZoneId.of` reads one: a region with its rules, or a fixed offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Region(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub const UTC: Zone = Zone::Region(Tz::UTC);

    /// The zone's offset from UTC at the instant `utc`, in seconds.
    pub fn offset_seconds(&self, utc: &NaiveDateTime) -> i32 {
        match self {
            Zone::Region(tz) => tz.offset_from_utc_datetime(utc).fix().local_minus_utc(),
            Zone::Fixed(f) => f.local_minus_utc(),
        }
    }

    /// The instant of the local time `local` (the earlier one when it is ambiguous).
    fn instant_of(&self, local: &NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Zone::Region(tz) => tz
                .from_local_datetime(local)
                .earliest()
                .map(|t| t.naive_utc()),
            Zone::Fixed(f) => f
                .from_local_datetime(local)
                .earliest()
                .map(|t| t.naive_utc()),
        }
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Region(tz) => write!(f, "{tz}"),
            Zone::Fixed(o) => write!(f, "{o}"),
        }
    }
}

/// `ZoneId.of(name)`: `Z`; an offset (`+h`, `+hh`, `+hh:mm`, `+hhmm`, `+hh:mm:ss`, `+hhmmss`,
/// or `-`), also after `UTC`, `GMT` or `UT`; or a region (`UTC`, `America/Los_Angeles`).
pub fn zone(name: &str) -> Result<Zone, String> {
    let unknown = || format!("Unknown time zone: {name}");
    if name == "Z" || ["UTC", "GMT", "UT"].contains(&name) {
        return Ok(Zone::UTC);
    }
    let offset = ["UTC", "GMT", "UT", ""]
        .iter()
        .find_map(|p| name.strip_prefix(p).filter(|r| r.starts_with(['+', '-'])));
    if let Some(offset) = offset {
        return fixed_offset(offset).map(Zone::Fixed).ok_or_else(unknown);
    }
    name.parse::<Tz>().map(Zone::Region).map_err(|_| unknown())
}

/// `ZoneOffset.of`: a sign, then `h`, `hh`, `hh:mm`, `hhmm`, `hh:mm:ss` or `hhmmss`, within
/// 18 hours.
fn fixed_offset(text: &str) -> Option<FixedOffset> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits = &text[1..];
    let number = |t: &str| -> Option<i32> {
        (t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let (h, m, s) = match digits.len() {
        1 if digits.bytes().all(|b| b.is_ascii_digit()) => (digits.parse().ok()?, 0, 0),
        2 => (number(digits)?, 0, 0),
        4 => (number(&digits[..2])?, number(&digits[2..])?, 0),
        5 if &digits[2..3] == ":" => (number(&digits[..2])?, number(&digits[3..])?, 0),
        6 => (
            number(&digits[..2])?,
            number(&digits[2..4])?,
            number(&digits[4..])?,
        ),
        8 if &digits[2..3] == ":" && &digits[5..6] == ":" => (
            number(&digits[..2])?,
            number(&digits[3..5])?,
            number(&digits[6..])?,
        ),
        _ => return None,
    };
    if h > 18 || m > 59 || s > 59 || (h == 18 && (m > 0 || s > 0)) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60 + s))
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
        let n = args.number_rows;
        let first = args.args[0].to_array(n)?;
        let patterns = TextArg::new(&args.args[1]);
        let zones = args.args.get(2).map(TextArg::new);
        let mut lookup = Lookup::default();
        let out: ArrayRef = match self.kind {
            Kind::Parse => {
                let text = first.as_string::<i32>();
                let mut values = Vec::with_capacity(n);
                for i in 0..n {
                    let found = if text.is_null(i) {
                        None
                    } else {
                        lookup.at(&patterns, zones.as_ref(), i)?
                    };
                    match found {
                        None => values.push(None),
                        Some((p, tz)) => match p.parse_millis(text.value(i), tz) {
                            Ok(v) => values.push(Some(v)),
                            Err(e) => return exec_err!("{e}"),
                        },
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
                let millis = cast(&first, &DataType::Int64)?;
                let millis = millis.as_primitive::<Int64Type>();
                let mut b = StringBuilder::with_capacity(n, n * 24);
                for i in 0..n {
                    let found = if millis.is_null(i) {
                        None
                    } else {
                        lookup.at(&patterns, zones.as_ref(), i)?
                    };
                    match found {
                        None => b.append_null(),
                        Some((p, tz)) => b.append_option(p.format_millis(millis.value(i), tz)),
                    }
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// The pattern and zone of a row: a literal's is read once, a column's when it changes.
#[derive(Default)]
struct Lookup {
    pattern: Option<(String, JavaPattern)>,
    zone: Option<(String, Zone)>,
}

impl Lookup {
    /// `None` when the row's pattern or zone is NULL.
    fn at(
        &mut self,
        patterns: &TextArg,
        zones: Option<&TextArg>,
        i: usize,
    ) -> Result<Option<(&JavaPattern, Zone)>> {
        let Some(p) = patterns.get(i) else {
            return Ok(None);
        };
        let tz = match zones {
            None => Zone::UTC,
            Some(z) => match z.get(i) {
                None => return Ok(None),
                Some(name) => match &self.zone {
                    Some((k, tz)) if k == name => *tz,
                    _ => {
                        let tz = zone(name).or_else(|e| exec_err!("{e}"))?;
                        self.zone = Some((name.to_string(), tz));
                        tz
                    }
                },
            },
        };
        if self.pattern.as_ref().is_none_or(|(k, _)| k != p) {
            match JavaPattern::new(p) {
                Ok(c) => self.pattern = Some((p.to_string(), c)),
                Err(e) => return exec_err!("{e}"),
            }
        }
        Ok(self.pattern.as_ref().map(|(_, p)| (p, tz)))
    }
}

/// A text argument: one value for every row (a literal), or a column's.
enum TextArg<'a> {
    Same(Option<&'a str>),
    Each(&'a dyn Array),
}

impl<'a> TextArg<'a> {
    fn new(v: &'a ColumnarValue) -> Self {
        match v {
            ColumnarValue::Scalar(s) => TextArg::Same(match s {
                datafusion::common::ScalarValue::Utf8(v)
                | datafusion::common::ScalarValue::LargeUtf8(v)
                | datafusion::common::ScalarValue::Utf8View(v) => v.as_deref(),
                _ => None,
            }),
            ColumnarValue::Array(a) => TextArg::Each(a.as_ref()),
        }
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            TextArg::Same(v) => *v,
            TextArg::Each(a) => {
                let a = a.as_string::<i32>();
                (!a.is_null(i)).then(|| a.value(i))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_parse_and_format() {
        let p = JavaPattern::new("yyyy-MM-dd'T'HH:mm:ss.SSSX").unwrap();
        let ms = p
            .parse_millis("2020-05-01T10:00:00.123Z", Zone::UTC)
            .unwrap();
        assert_eq!(ms, 1_588_327_200_123);
        assert_eq!(
            p.format_millis(ms, Zone::UTC).unwrap(),
            "2020-05-01T10:00:00.123Z"
        );
        let p = JavaPattern::new("yy-MM-dd HH:mm:ssX").unwrap();
        assert_eq!(
            p.parse_millis("10-04-19 12:00:17Z", Zone::UTC).unwrap(),
            1_271_678_417_000
        );
        let p = JavaPattern::new("yyyy-MM-dd").unwrap();
        assert_eq!(p.parse_millis("1970-01-02", Zone::UTC).unwrap(), 86_400_000);
        // A zone abbreviation stands for its region, daylight saving included.
        let z = JavaPattern::new("yyyy-MM-dd'T'HH:mm:ss zzz").unwrap();
        assert_eq!(
            z.parse_millis("2018-05-11T21:58:33 PST", Zone::UTC)
                .unwrap(),
            1_526_101_113_000
        );
        assert_eq!(
            z.parse_millis("2018-01-11T21:58:33 PST", Zone::UTC)
                .unwrap(),
            1_515_736_713_000
        );
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let p = JavaPattern::new("yyyy-MM-dd HH:mm:ss zzz").unwrap();
        assert_eq!(
            p.format_millis(0, Zone::Region(la)).unwrap(),
            "1969-12-31 16:00:00 PST"
        );
        // One letter: no padding when writing, one or two digits when reading.
        let short = JavaPattern::new("d/M/yyyy H:m:s").unwrap();
        assert_eq!(short.format_millis(0, Zone::UTC).unwrap(), "1/1/1970 0:0:0");
        assert_eq!(
            short.parse_millis("2/1/1970 10:5:7", Zone::UTC).unwrap(),
            86_400_000 + 36_307_000
        );
        assert!(JavaPattern::new("yyyy-qq").is_err());
        // A fraction after a dot reads with its own number of digits.
        let tenths = JavaPattern::new("yyyy-MM-dd'T'HH:mm:ss.SX").unwrap();
        assert_eq!(
            tenths.parse_millis("2019-08-27T13:31:09.2+0000", Zone::UTC),
            Ok(1_566_912_669_200)
        );
        let millis = JavaPattern::new("HH:mm:ss.SSS").unwrap();
        assert_eq!(millis.parse_millis("00:00:01.250", Zone::UTC), Ok(1250));
    }

    #[test]
    fn zones_read_as_java_zone_ids() {
        let fixed = |secs| Ok(Zone::Fixed(FixedOffset::east_opt(secs).unwrap()));
        assert_eq!(zone("+0200"), fixed(7200));
        assert_eq!(zone("-05:30"), fixed(-19800));
        assert_eq!(zone("+5"), fixed(18000));
        assert_eq!(zone("UTC+01:00"), fixed(3600));
        assert_eq!(zone("GMT-2"), fixed(-7200));
        assert_eq!(zone("+010203"), fixed(3723));
        assert_eq!(zone("Z"), Ok(Zone::UTC));
        assert_eq!(zone("GMT"), Ok(Zone::UTC));
        assert!(matches!(zone("Europe/Paris"), Ok(Zone::Region(_))));
        assert!(zone("+19").is_err());
        assert!(zone("+2:00").is_err());
        assert!(zone("Mars/Olympus").is_err());
        // A fixed zone formats with its offset.
        let p = JavaPattern::new("yyyy-MM-dd HH:mm").unwrap();
        assert_eq!(
            p.format_millis(0, zone("+0530").unwrap()).unwrap(),
            "1970-01-01 05:30"
        );
    }
}
