//! The fastest path for JSON values: a byte scanner for flat records, the common shape of event
//! data (`{"auction": 1, "url": "https://...", ...}`). It reads a record's fields in one pass,
//! matches names against the columns without allocating, parses integers itself, copies strings
//! without escapes straight into the row's scratch buffer, and skips the fields the query does
//! not read without looking inside their values.
//!
//! It handles only what it is sure of: anything else (an escape in a string, a nested value, a
//! number of another type than the column's, malformed JSON) answers "not here" and the caller
//! reads that record with serde ([`json_fast`](super::json_fast)), whose rules stay the only
//! rules: for every record the scanner accepts, it gives what serde gives.

use super::json_fast::Slot;

/// What a column takes from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Not read by the query.
    Skip,
    Bool,
    /// INT or BIGINT: an integer (its range is checked when it is appended).
    Int,
    Float,
    Str,
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        self.i += usize::from(found);
        found
    }

    fn literal(&mut self, lit: &[u8]) -> bool {
        let found = self.b[self.i..].starts_with(lit);
        self.i += if found { lit.len() } else { 0 };
        found
    }

    /// A string with no escapes and no control characters, at its opening quote: its bytes.
    fn plain_str(&mut self) -> Option<&'a [u8]> {
        if !self.eat(b'"') {
            return None;
        }
        let rest = &self.b[self.i..];
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        let s = &rest[..end];
        // A fold without early exit, which the compiler vectorizes.
        if rest[end] != b'"' || s.iter().fold(false, |bad, &c| bad | (c < 0x20)) {
            return None;
        }
        self.i += end + 1;
        Some(s)
    }

    fn digits(&mut self) -> Option<()> {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        (self.i > start).then_some(())
    }

    /// A number (JSON's grammar): its text and whether serde reads it as an integer.
    fn number(&mut self) -> Option<(&'a [u8], bool)> {
        let start = self.i;
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits()?,
            _ => return None,
        }
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.i += 1;
            let _ = self.eat(b'+') || self.eat(b'-');
            self.digits()?;
        }
        let text = &self.b[start..self.i];
        // serde reads `-0` as the float -0.0 (an integer column refuses it).
        Some((text, integer && text != b"-0"))
    }

    fn value(&mut self, kind: Kind, scratch: &mut String) -> Option<Slot> {
        if self.literal(b"null") {
            return Some(Slot::Null);
        }
        match (kind, self.peek()?) {
            (Kind::Skip, b'"') => self.plain_str().map(|_| Slot::Unset),
            (Kind::Skip, b't') => self.literal(b"true").then_some(Slot::Unset),
            (Kind::Skip, b'f') => self.literal(b"false").then_some(Slot::Unset),
            (Kind::Skip, b'-' | b'0'..=b'9') => self.number().map(|_| Slot::Unset),
            (Kind::Bool, b't') => self.literal(b"true").then_some(Slot::Bool(true)),
            (Kind::Bool, b'f') => self.literal(b"false").then_some(Slot::Bool(false)),
            (Kind::Int | Kind::Float, b'-' | b'0'..=b'9') => {
                let (text, integer) = self.number()?;
                match (integer, kind) {
                    (true, _) => parse_i64(text).map(Slot::Int),
                    // serde's own float parsing, so the value is the same to the last bit.
                    (false, Kind::Float) => serde_json::from_slice(text).ok().map(Slot::Float),
                    (false, _) => None,
                }
            }
            (Kind::Str, b'"') => {
                let s = std::str::from_utf8(self.plain_str()?).ok()?;
                let from = scratch.len();
                scratch.push_str(s);
                Some(Slot::Str(from, scratch.len()))
            }
            _ => None,
        }
    }
}

/// An integer's text (from [`Scan::number`]) as an i64, if it fits.
fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut v: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if negative {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

/// The column a field names (ignoring ASCII case; the `k`-th column is tried first, records
/// usually list fields in the columns' order) and whether exactly.
fn column(names: &[&str], key: &[u8], k: usize) -> Option<(usize, bool)> {
    let matches = |n: &&str| n.len() == key.len() && n.as_bytes().eq_ignore_ascii_case(key);
    let at = match names.get(k) {
        Some(n) if matches(n) => Some(k),
        _ => names.iter().position(matches),
    }?;
    Some((at, names[at].as_bytes() == key))
}

/// Reads one record into `slots` (a value per column, and whether its field's name matched
/// exactly) and `scratch`; false if the record needs serde (the caller clears both first).
pub(super) fn record(
    bytes: &[u8],
    names: &[&str],
    kinds: &[Kind],
    slots: &mut [(Slot, bool)],
    scratch: &mut String,
) -> bool {
    fields(&mut Scan { b: bytes, i: 0 }, names, kinds, slots, scratch).is_some()
}

fn fields(
    s: &mut Scan<'_>,
    names: &[&str],
    kinds: &[Kind],
    slots: &mut [(Slot, bool)],
    scratch: &mut String,
) -> Option<()> {
    s.ws();
    if !s.eat(b'{') {
        return None;
    }
    s.ws();
    let mut k = 0;
    if !s.eat(b'}') {
        loop {
            let key = s.plain_str()?;
            s.ws();
            if !s.eat(b':') {
                return None;
            }
            s.ws();
            let found = column(names, key, k);
            k += 1;
            let kind = found.map_or(Kind::Skip, |(i, _)| kinds[i]);
            let slot = s.value(kind, scratch)?;
            if let Some((i, exact)) = found.filter(|_| kind != Kind::Skip) {
                // As the serde path: the exact name (its last value), else the first field
                // that matches ignoring case; two such fields are serde's to refuse.
                let (held, held_exact) = slots[i];
                if !exact && !held_exact && held != Slot::Unset {
                    return None;
                }
                if exact || held == Slot::Unset {
                    slots[i] = (slot, exact);
                }
            }
            s.ws();
            if s.eat(b',') {
                s.ws();
                continue;
            }
            if s.eat(b'}') {
                break;
            }
            return None;
        }
    }
    s.ws();
    (s.i == s.b.len()).then_some(())
}
