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
        let end = special(rest)?;
        if rest[end] != b'"' {
            return None;
        }
        self.i += end + 1;
        Some(&rest[..end])
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

/// The first quote, backslash or control character of `s`: the first quote or backslash is
/// found with `memchr2` (SIMD), then the bytes before it are checked for control characters
/// in one pass without an early exit (which the compiler vectorizes); only a string that has
/// one looks for where.
fn special(s: &[u8]) -> Option<usize> {
    let end = memchr::memchr2(b'"', b'\\', s);
    let head = &s[..end.unwrap_or(s.len())];
    if head.iter().fold(false, |any, &c| any | (c < 0x20)) {
        return head.iter().position(|&c| c < 0x20);
    }
    end
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

/// Whether two short byte strings are equal, compared in place (names are a few bytes: a
/// call to `memcmp` per field cost more than the comparison).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The column a field names (ignoring ASCII case; the `k`-th column is tried first, records
/// usually list fields in the columns' order) and whether exactly. `lower` holds the names in
/// lower case: most fields are spelled so, and compare as plain bytes (a key that equals one
/// lower-case name is in lower case, so it matches ignoring case exactly the columns it
/// matches as bytes, and it is the exact name when that name is in lower case).
fn column(names: &Names<'_>, key: &[u8], k: usize) -> Option<(usize, bool)> {
    let n = names.exact.len();
    let first = |m: &dyn Fn(usize) -> bool| match k < n && m(k) {
        true => Some(k),
        false => (0..n).find(|&i| m(i)),
    };
    if let Some(at) = first(&|i| same(&names.lower[i], key)) {
        return Some((at, names.lower_is_exact[at]));
    }
    let at = first(&|i| {
        let lower: &[u8] = &names.lower[i];
        lower.len() == key.len() && lower.eq_ignore_ascii_case(key)
    })?;
    Some((at, names.exact[at].as_bytes() == key))
}

/// The columns' names as declared and in lower case.
pub(super) struct Names<'a> {
    pub exact: &'a [&'a str],
    pub lower: Vec<Vec<u8>>,
    /// Whether each name as declared is its lower-case form.
    pub lower_is_exact: Vec<bool>,
}

impl<'a> Names<'a> {
    pub fn new(exact: &'a [&'a str]) -> Self {
        let lower: Vec<Vec<u8>> = exact
            .iter()
            .map(|n| n.to_ascii_lowercase().into_bytes())
            .collect();
        let lower_is_exact = exact
            .iter()
            .zip(&lower)
            .map(|(e, l)| e.as_bytes() == &l[..])
            .collect();
        Names {
            exact,
            lower,
            lower_is_exact,
        }
    }
}

/// Reads one record into `slots` (a value per column, and whether its field's name matched
/// exactly) and `scratch`; false if the record needs serde (the caller clears both first).
pub(super) fn record(
    bytes: &[u8],
    names: &Names<'_>,
    kinds: &[Kind],
    slots: &mut [(Slot, bool)],
    scratch: &mut String,
) -> bool {
    fields(&mut Scan { b: bytes, i: 0 }, names, kinds, slots, scratch).is_some()
}

fn fields(
    s: &mut Scan<'_>,
    names: &Names<'_>,
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
