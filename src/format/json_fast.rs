//! The fast path for JSON values: records of primitive columns (BOOLEAN, INT, BIGINT, DOUBLE,
//! STRING) are deserialized straight into Arrow builders with serde, with no intermediate
//! `serde_json::Value`, no per-record allocation, and columns a query does not use skipped
//! without being materialized. Anything out of the ordinary (a value of another JSON type than
//! the column's, a non-object record) makes the whole batch fall back to the general path,
//! which coerces as ksqlDB does and reports the record it cannot read.

use super::json_scan::{self, Kind};
use crate::catalog::types::SqlType;
use datafusion::arrow::array::{
    new_null_array, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder,
};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;

/// Whether the fast path can read a column of this type.
pub fn supports(ty: &SqlType) -> bool {
    matches!(
        ty,
        SqlType::Boolean | SqlType::Int | SqlType::Bigint | SqlType::Double | SqlType::String
    )
}

enum Builder {
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    /// A column the query does not use: all NULL.
    Skip(SqlType),
}

/// One record's value of a column, before it is appended (a later field of the same name may
/// still replace it, as in ksqlDB's lookup: an exact name beats a case-insensitive one).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Slot {
    Unset,
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A range of the row's string scratch buffer.
    Str(usize, usize),
}

/// Decodes JSON values into one array per column; `None` if any record needs the general
/// path. `needed[i]` false: column `i` is not read (all NULL).
pub fn decode<'a>(
    values: impl Iterator<Item = Option<&'a [u8]>>,
    rows: usize,
    cols: &[(&str, &SqlType)],
    needed: &[bool],
) -> Option<Vec<ArrayRef>> {
    let mut builders: Vec<Builder> = cols
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| {
            if !needed.get(i).copied().unwrap_or(true) {
                return Builder::Skip((*ty).clone());
            }
            match ty {
                SqlType::Boolean => Builder::Bool(BooleanBuilder::with_capacity(rows)),
                SqlType::Int => Builder::I32(Int32Builder::with_capacity(rows)),
                SqlType::Bigint => Builder::I64(Int64Builder::with_capacity(rows)),
                SqlType::Double => Builder::F64(Float64Builder::with_capacity(rows)),
                _ => Builder::Str(StringBuilder::with_capacity(rows, rows * 16)),
            }
        })
        .collect();
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    // Names that differ only in case can take the same field (ksqlDB looks a field up per
    // column): the general path reads them. Otherwise a field matches one column at most.
    let unique = names
        .iter()
        .enumerate()
        .all(|(i, a)| names[i + 1..].iter().all(|b| !a.eq_ignore_ascii_case(b)));
    if !unique {
        return None;
    }
    let kinds: Vec<Kind> = builders
        .iter()
        .map(|b| match b {
            Builder::Skip(_) => Kind::Skip,
            Builder::Bool(_) => Kind::Bool,
            Builder::I32(_) | Builder::I64(_) => Kind::Int,
            Builder::F64(_) => Kind::Float,
            Builder::Str(_) => Kind::Str,
        })
        .collect();
    let scan_names = json_scan::Names::new(&names);
    let mut slots = vec![(Slot::Unset, false); cols.len()];
    let mut scratch = String::new();
    for value in values {
        slots.fill((Slot::Unset, false));
        scratch.clear();
        if let Some(bytes) = value {
            // Flat records are scanned; any other is read with serde.
            if json_scan::record(bytes, &scan_names, &kinds, &mut slots, &mut scratch) {
                for (b, (slot, _)) in builders.iter_mut().zip(&slots) {
                    append(b, *slot, &scratch)?;
                }
                continue;
            }
            slots.fill((Slot::Unset, false));
            scratch.clear();
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let seed = RowSeed {
                names: &names,
                builders: &builders,
                slots: &mut slots,
                scratch: &mut scratch,
            };
            seed.deserialize(&mut de).ok()?;
            de.end().ok()?;
        }
        for (b, (slot, _)) in builders.iter_mut().zip(&slots) {
            append(b, *slot, &scratch)?;
        }
    }
    Some(
        builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Bool(mut b) => Arc::new(b.finish()),
                    Builder::I32(mut b) => Arc::new(b.finish()),
                    Builder::I64(mut b) => Arc::new(b.finish()),
                    Builder::F64(mut b) => Arc::new(b.finish()),
                    Builder::Str(mut b) => Arc::new(b.finish()),
                    Builder::Skip(ty) => new_null_array(&ty.to_arrow(), rows),
                }
            })
            .collect(),
    )
}

fn append(b: &mut Builder, slot: Slot, scratch: &str) -> Option<()> {
    match (b, slot) {
        (Builder::Skip(_), _) => {}
        (Builder::Bool(b), Slot::Bool(v)) => b.append_value(v),
        (Builder::I32(b), Slot::Int(v)) => b.append_value(i32::try_from(v).ok()?),
        (Builder::I64(b), Slot::Int(v)) => b.append_value(v),
        (Builder::F64(b), Slot::Float(v)) => b.append_value(v),
        (Builder::F64(b), Slot::Int(v)) => b.append_value(v as f64),
        (Builder::Str(b), Slot::Str(from, to)) => b.append_value(&scratch[from..to]),
        (Builder::Bool(b), Slot::Unset | Slot::Null) => b.append_null(),
        (Builder::I32(b), Slot::Unset | Slot::Null) => b.append_null(),
        (Builder::I64(b), Slot::Unset | Slot::Null) => b.append_null(),
        (Builder::F64(b), Slot::Unset | Slot::Null) => b.append_null(),
        (Builder::Str(b), Slot::Unset | Slot::Null) => b.append_null(),
        _ => return None,
    }
    Some(())
}

struct RowSeed<'a> {
    names: &'a [&'a str],
    builders: &'a [Builder],
    slots: &'a mut [(Slot, bool)],
    scratch: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    /// A JSON `null` record: every column NULL.
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Records usually list their fields in the columns' order: the k-th field is tried
        // against the k-th column first.
        let mut k = 0;
        while let Some(found) = map.next_key_seed(KeySeed(self.names, k))? {
            k += 1;
            let Some((i, exact)) = found else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let seed = ValueSeed {
                builder: &self.builders[i],
                scratch: self.scratch,
            };
            let slot = map.next_value_seed(seed)?;
            // As ksqlDB's lookup: the exact name (its last value), else the first field that
            // matches ignoring case. Two such fields (or one repeated) go to the general path.
            let (held, held_exact) = self.slots[i];
            if !exact && !held_exact && held != Slot::Unset {
                return Err(de::Error::custom("a field named twice ignoring case"));
            }
            if exact || held == Slot::Unset {
                self.slots[i] = (slot, exact);
            }
        }
        Ok(())
    }
}

/// A field name: the column it names, if any. Holds the column names (unique ignoring case)
/// and the column expected at this field's position.
struct KeySeed<'a>(&'a [&'a str], usize);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<(usize, bool)>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // Raw bytes: names are matched byte-wise, without validating UTF-8 first.
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<(usize, bool)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    /// The column a field names (case-insensitively), and whether exactly: exactness only
    /// ranks fields of one record that differ in case.
    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<Self::Value, E> {
        let matches = |n: &&str| n.len() == key.len() && n.as_bytes().eq_ignore_ascii_case(key);
        let at = match self.0.get(self.1) {
            Some(n) if matches(n) => Some(self.1),
            _ => self.0.iter().position(matches),
        };
        Ok(at.map(|i| (i, self.0[i].as_bytes() == key)))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        self.visit_bytes(key.as_bytes())
    }
}

struct ValueSeed<'a> {
    builder: &'a Builder,
    scratch: &'a mut String,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Slot;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Slot, D::Error> {
        Ok(match self.builder {
            Builder::Skip(_) => {
                IgnoredAny::deserialize(d)?;
                Slot::Unset
            }
            Builder::Bool(_) => Option::<bool>::deserialize(d)?.map_or(Slot::Null, Slot::Bool),
            Builder::I32(_) | Builder::I64(_) => {
                Option::<i64>::deserialize(d)?.map_or(Slot::Null, Slot::Int)
            }
            Builder::F64(_) => Option::<f64>::deserialize(d)?.map_or(Slot::Null, Slot::Float),
            Builder::Str(_) => d.deserialize_option(StrVisitor(self.scratch))?,
        })
    }
}

/// A string value, copied into the row's scratch buffer (borrowed or unescaped by serde_json,
/// never allocated on its own).
struct StrVisitor<'a>(&'a mut String);

impl<'de> Visitor<'de> for StrVisitor<'_> {
    type Value = Slot;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_none<E: de::Error>(self) -> Result<Slot, E> {
        Ok(Slot::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Slot, E> {
        Ok(Slot::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Slot, D::Error> {
        d.deserialize_str(self)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Slot, E> {
        let from = self.0.len();
        self.0.push_str(v);
        Ok(Slot::Str(from, self.0.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Float64Type, Int32Type, Int64Type};

    fn run(records: &[Option<&str>], needed: &[bool]) -> Option<Vec<ArrayRef>> {
        let cols = [
            ("ID", &SqlType::Bigint),
            ("NAME", &SqlType::String),
            ("PRICE", &SqlType::Double),
            ("N", &SqlType::Int),
            ("OK", &SqlType::Boolean),
        ];
        decode(
            records.iter().map(|r| r.map(str::as_bytes)),
            records.len(),
            &cols,
            needed,
        )
    }

    #[test]
    fn reads_primitive_columns_by_name_case_insensitively() {
        let cols = run(
            &[
                Some(r#"{"id": 7, "name": "a\"b", "price": 2, "n": -3, "ok": true, "x": [1, {"y": 2}]}"#),
                Some(r#"{"ID": null, "price": 1.5}"#),
                None,
                Some("null"),
                // An exact name beats a case-insensitive one, whatever the order.
                Some(r#"{"NAME": "exact", "name": "other", "\u0069d": 9}"#),
            ],
            &[true; 5],
        )
        .unwrap();
        let id = cols[0].as_primitive::<Int64Type>();
        assert_eq!((id.value(0), id.is_null(1), id.is_null(2)), (7, true, true));
        let name = cols[1].as_string::<i32>();
        assert_eq!(name.value(0), "a\"b");
        assert_eq!(name.value(4), "exact");
        assert_eq!(id.value(4), 9, "an escaped field name matches");
        assert!(name.is_null(1) && name.is_null(3));
        let price = cols[2].as_primitive::<Float64Type>();
        assert_eq!((price.value(0), price.value(1)), (2.0, 1.5));
        assert_eq!(cols[3].as_primitive::<Int32Type>().value(0), -3);
        assert!(cols[4].as_boolean().value(0));
    }

    #[test]
    fn unusual_records_fall_back_to_the_general_path() {
        for record in [
            r#"{"id": "7"}"#,                // a string for a BIGINT
            r#"{"n": 1.5}"#,                 // a fraction for an INT
            r#"{"n": 3000000000}"#,          // out of INT's range
            r#"{"name": 5}"#,                // a number for a STRING
            r#"[1, 2]"#,                     // not an object
            r#"{"id": 1"#,                   // malformed
            r#"{"id": 1} trailing"#,         // trailing characters
            r#"{"Name": "a", "name": "b"}"#, // two fields match NAME ignoring case
        ] {
            assert!(run(&[Some(record)], &[true; 5]).is_none(), "{record}");
        }
    }

    #[test]
    fn names_that_differ_only_in_case_take_the_general_path() {
        let cols = [("a", &SqlType::Bigint), ("A", &SqlType::Bigint)];
        let records = [Some(&br#"{"A": 1, "a": 2}"#[..])];
        // There one field can feed both columns (ksqlDB looks fields up per column).
        assert!(decode(records.iter().copied(), 1, &cols, &[true, true]).is_none());
    }

    #[test]
    fn unused_columns_are_skipped() {
        let cols = run(
            &[Some(r#"{"id": 1, "name": {"nested": [true]}}"#)],
            &[true, false, true, true, true],
        )
        .unwrap();
        assert_eq!(cols[0].as_primitive::<Int64Type>().value(0), 1);
        assert!(cols[1].is_null(0));
    }

    /// Reads a record with serde only (as before the scanner): the slots and scratch.
    fn serde_slots(
        bytes: &[u8],
        names: &[&str],
        builders: &[Builder],
    ) -> Option<(Vec<(Slot, bool)>, String)> {
        let mut slots = vec![(Slot::Unset, false); names.len()];
        let mut scratch = String::new();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let seed = RowSeed {
            names,
            builders,
            slots: &mut slots,
            scratch: &mut scratch,
        };
        seed.deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some((slots, scratch))
    }

    /// Whatever the scanner accepts, it reads as serde does: hand-picked edge cases and
    /// thousands of generated flat records (names in other cases and orders, repeated fields,
    /// numbers at their limits, escapes, control characters, nesting, odd whitespace).
    #[test]
    fn the_scanner_reads_what_it_accepts_exactly_as_serde() {
        let names = ["ID", "NAME", "PRICE", "N", "OK", "SKIPPED"];
        let builders = [
            Builder::I64(Int64Builder::new()),
            Builder::Str(StringBuilder::new()),
            Builder::F64(Float64Builder::new()),
            Builder::I32(Int32Builder::new()),
            Builder::Bool(BooleanBuilder::new()),
            Builder::Skip(SqlType::String),
        ];
        let kinds = [
            Kind::Int,
            Kind::Str,
            Kind::Float,
            Kind::Int,
            Kind::Bool,
            Kind::Skip,
        ];
        let mut corpus: Vec<String> = [
            r#"{"id":1,"name":"a","price":1.5,"n":2,"ok":true,"skipped":"x"}"#,
            r#" { "ID" : -0 , "Name" : "" } "#,
            r#"{"id": 9223372036854775807, "price": -1e-7}"#,
            r#"{"id": 9223372036854775808}"#,
            r#"{"id": -9223372036854775808, "price": 18446744073709551616}"#,
            r#"{"id": 01}"#,
            r#"{"id": 1.}"#,
            r#"{"id": -}"#,
            r#"{"price": 2E+3, "n": 1e2}"#,
            r#"{"name": "tab	inside"}"#,
            r#"{"name": "é
"}"#,
            r#"{"name": "é ü 😀"}"#,
            r#"{"skipped": {"a": [1, 2]}, "id": 3}"#,
            r#"{"ok": false, "OK": true, "Ok": null}"#,
            r#"{"name": "a", "NAME": "b", "name": "c"}"#,
            r#"{"Name": "a", "nAme": "b"}"#,
            r#"{}"#,
            r#"{"id": 1,}"#,
            r#"{"id": 1} x"#,
            r#"{"id" 1}"#,
            r#"null"#,
            r#"{"id": true, "name": 5}"#,
            r#"{"unknown": [1, {"x": "y"}], "id": 4}"#,
            r#"{"price": 0.1, "price": 0.30000000000000004}"#,
            "{\"id\":\r\n7}",
        ]
        .iter()
        .map(|r| r.to_string())
        .collect();
        // Generated records: a small deterministic generator of flat records.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let name_forms = [
            "id", "ID", "Id", "name", "NAME", "price", "Price", "n", "ok", "skipped", "other",
            "i\\u0064",
        ];
        let values = [
            "0",
            "-1",
            "42",
            "2147483648",
            "-2147483649",
            "1.25",
            "-0.0",
            "3e5",
            "1E-2",
            "007",
            "\"s\"",
            "\"with \\\" quote\"",
            "\"\\/\"",
            "true",
            "false",
            "null",
            "[1]",
            "{}",
            "\"ü\"",
            "-",
            "1.",
            ".5",
            "99999999999999999999",
            "\"x\\u0001\"",
        ];
        let ws = ["", " ", "\n", "\t ", "\r\n"];
        for _ in 0..4000 {
            let fields = next(5) as usize;
            let mut r = String::from(ws[next(5) as usize]);
            r.push('{');
            for f in 0..fields {
                if f > 0 {
                    r.push(',');
                }
                r += ws[next(5) as usize];
                r += &format!("\"{}\"", name_forms[next(name_forms.len() as u64) as usize]);
                r += ws[next(5) as usize];
                r.push(':');
                r += ws[next(5) as usize];
                r += values[next(values.len() as u64) as usize];
            }
            r.push('}');
            r += ws[next(5) as usize];
            corpus.push(r);
        }
        let mut scanned = 0;
        for r in &corpus {
            let mut slots = vec![(Slot::Unset, false); names.len()];
            let mut scratch = String::new();
            let scan_names = json_scan::Names::new(&names);
            if !json_scan::record(r.as_bytes(), &scan_names, &kinds, &mut slots, &mut scratch) {
                continue;
            }
            scanned += 1;
            let (want, want_scratch) = serde_slots(r.as_bytes(), &names, &builders)
                .unwrap_or_else(|| panic!("the scanner accepted what serde refuses: {r}"));
            for i in 0..names.len() {
                if kinds[i] == Kind::Skip {
                    continue;
                }
                let text = |slot: Slot, scratch: &str| match slot {
                    Slot::Str(a, b) => format!("str {}", &scratch[a..b]),
                    Slot::Int(v) if kinds[i] == Kind::Float => format!("float {:?}", v as f64),
                    Slot::Int(v) => format!("int {v}"),
                    Slot::Float(v) => format!("float {v:?}"),
                    Slot::Bool(v) => format!("bool {v}"),
                    Slot::Null => "null".into(),
                    Slot::Unset => "unset".into(),
                };
                assert_eq!(
                    text(slots[i].0, &scratch),
                    text(want[i].0, &want_scratch),
                    "column {} of {r}",
                    names[i]
                );
            }
        }
        assert!(scanned > 1000, "the scanner took only {scanned} records");
    }
}
