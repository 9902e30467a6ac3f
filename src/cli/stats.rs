//! `brooklet topic-stats`: a topic's record count and exact sums of fields of its JSON values.

use crate::error::{Error, Result};
use crate::log::SharedLog;

/// An exact decimal sum: an integer of `scale` fractional digits.
#[derive(Default, Clone, Copy)]
struct Sum {
    units: i128,
    scale: u32,
}

impl Sum {
    fn add(&mut self, text: &str) -> Option<()> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if frac.contains(['e', 'E']) || int.contains(['e', 'E']) {
            return None;
        }
        let scale = frac.len() as u32;
        let digits: i128 = format!("{int}{frac}").parse().ok()?;
        if scale > self.scale {
            self.units = self
                .units
                .checked_mul(10i128.checked_pow(scale - self.scale)?)?;
            self.scale = scale;
        }
        let digits = digits.checked_mul(10i128.checked_pow(self.scale - scale)?)?;
        self.units = self.units.checked_add(digits)?;
        Some(())
    }

    fn text(self) -> String {
        if self.scale == 0 {
            return self.units.to_string();
        }
        let p = 10i128.pow(self.scale);
        let sign = if self.units < 0 { "-" } else { "" };
        let (i, f) = (self.units.abs() / p, self.units.abs() % p);
        format!("{sign}{i}.{f:0w$}", w = self.scale as usize)
    }
}

pub fn topic_stats(log: &SharedLog, topic: &str, fields: &[String]) -> Result<serde_json::Value> {
    let mut records = 0u64;
    let mut tombstones = 0u64;
    let mut sums = vec![Sum::default(); fields.len()];
    super::topics::each_record(log, topic, |r| {
        records += 1;
        let Some(value) = r.record.value.as_deref() else {
            tombstones += 1;
            return Ok(());
        };
        let v: serde_json::Value = serde_json::from_slice(value)
            .map_err(|e| Error::generic(format!("record {}: {e}", r.offset)))?;
        for (f, sum) in fields.iter().zip(sums.iter_mut()) {
            if let Some(n) = v.get(f).and_then(|x| x.as_number()) {
                sum.add(&n.to_string())
                    .ok_or_else(|| Error::generic(format!("cannot sum {f} = {n} exactly")))?;
            }
        }
        Ok(())
    })?;
    let sums: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .zip(sums)
        .map(|(f, s)| (f.clone(), serde_json::Value::String(s.text())))
        .collect();
    Ok(
        serde_json::json!({"topic": topic, "records": records, "tombstones": tombstones, "sums": sums}),
    )
}

#[cfg(test)]
mod tests {
    use super::Sum;

    #[test]
    fn sums_decimals_exactly() {
        let mut s = Sum::default();
        for v in ["1", "2.5", "-0.125", "100"] {
            s.add(v).unwrap();
        }
        assert_eq!(s.text(), "103.375");
        assert!(Sum::default().add("1e3").is_none());
    }
}
