//! The Nexmark event generator, as a source connector: the model of
//! `../shared/bench/gen_nexmark.py` (after the Nexmark Flink generator), event for event, so
//! the same seed and parameters give the same person, auction and bid records byte for byte.
//! Randomness is a 64-bit LCG reseeded with splitmix64(seed, chunk) every 50,000 events, so
//! any event can be regenerated from the start of its chunk (a restart resumes mid-stream).

const LCG_A: u64 = 6364136223846793005;
const LCG_C: u64 = 1442695040888963407;
const PERSON_PROPORTION: u64 = 1;
const AUCTION_PROPORTION: u64 = 3;
const BID_PROPORTION: u64 = 46;
const TOTAL_PROPORTION: u64 = 50;
const FIRST_PERSON_ID: u64 = 1000;
const FIRST_AUCTION_ID: u64 = 1000;
const FIRST_CATEGORY_ID: u64 = 10;
const NUM_CATEGORIES: u64 = 5;
const HOT_AUCTION_RATIO: u64 = 2;
const HOT_BIDDERS_RATIO: u64 = 4;
const HOT_SELLERS_RATIO: u64 = 4;
const HOT_BATCH: u64 = 100;
const NUM_IN_FLIGHT_AUCTIONS: u64 = 100;
const NUM_ACTIVE_PEOPLE: u64 = 1000;
const ID_LEAD: u64 = 10;
const AVG_PERSON_BYTES: i64 = 200;
const AVG_AUCTION_BYTES: i64 = 500;
const CHANNELS_NUMBER: u64 = 10_000;
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
pub const CHUNK: u64 = 50_000;
const BASE_TIME_MS: i64 = 1_700_000_000_000;

fn splitmix64(x: u64) -> u64 {
    let x = x.wrapping_add(0x9E3779B97F4A7C15);
    let z = (x ^ (x >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

/// The generator's random state.
struct Lcg(u64);

impl Lcg {
    fn step(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(LCG_A).wrapping_add(LCG_C);
        self.0
    }

    /// Uniform in `0..n` from the high 32 bits.
    fn below(&mut self, n: u64) -> u64 {
        ((self.step() >> 32) * n) >> 32
    }

    fn string(&mut self, max_len: u64, special: char) -> String {
        let len = 3 + self.below(max_len - 3);
        (0..len)
            .map(|_| {
                if self.below(13) == 0 {
                    special
                } else {
                    (b'a' + self.below(26) as u8) as char
                }
            })
            .collect()
    }
}

/// Seed-dependent lookup data.
struct Tables {
    extra: Vec<u8>,
    hot_cu: Vec<String>,
    cold_cu: Vec<String>,
    prices: Vec<u64>,
}

impl Tables {
    fn new(seed: u64) -> Tables {
        let mut r = Lcg(splitmix64(seed ^ 0x5EED5EED));
        let extra: Vec<u8> = (0..1 << 20).map(|_| b'a' + r.below(26) as u8).collect();
        let base_url = |r: &mut Lcg| {
            format!(
                "https://www.nexmark.com/{}/{}/{}/item.htm?query=1",
                r.string(5, '_'),
                r.string(5, '_'),
                r.string(5, '_')
            )
        };
        let hot_cu = HOT_CHANNELS
            .iter()
            .map(|c| format!("\"channel\":\"{c}\",\"url\":\"{}\"", base_url(&mut r)))
            .collect();
        let cold_cu = (0..CHANNELS_NUMBER as u32)
            .map(|i| {
                let mut url = base_url(&mut r);
                if r.below(10) > 0 {
                    // abs(Integer.reverse(i)) as a signed 32-bit int
                    let rev = i.reverse_bits() as u64;
                    let rev = if rev >= 1 << 31 {
                        (1u64 << 32) - rev
                    } else {
                        rev
                    };
                    url.push_str(&format!("&channel_id={rev}"));
                }
                format!("\"channel\":\"channel-{i}\",\"url\":\"{url}\"")
            })
            .collect();
        let prices = (0..1u32 << 20)
            .map(|k| (10f64.powf((k as f64 / 1048576.0) * 6.0) * 100.0).round_ties_even() as u64)
            .collect();
        Tables {
            extra,
            hot_cu,
            cold_cu,
            prices,
        }
    }
}

/// Generation parameters (gen_nexmark.py's options).
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub seed: u64,
    /// Events per simulated second, over all three streams (event time, not wall time).
    pub rate: u64,
    pub ooo_prob: f64,
    pub ooo_max_ms: u64,
    /// Events in all (see [`events_for_bids`]).
    pub events: u64,
}

/// The smallest event count holding exactly `bids` bids.
pub fn events_for_bids(bids: u64) -> u64 {
    let (full, rem) = (bids / BID_PROPORTION, bids % BID_PROPORTION);
    if rem == 0 {
        full * TOTAL_PROPORTION
    } else {
        full * TOTAL_PROPORTION + PERSON_PROPORTION + AUCTION_PROPORTION + rem
    }
}

/// Which stream an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Person = 0,
    Auction = 1,
    Bid = 2,
}

pub struct Generator {
    p: Params,
    t: Tables,
    s: Lcg,
    next: u64,
    us_per_event: f64,
    horizon_ms: u64,
    ooo_thresh: u64,
}

impl Generator {
    /// A generator positioned at event `from`.
    pub fn new(p: Params, from: u64) -> Generator {
        let us_per_event = 1_000_000.0 / p.rate as f64;
        let horizon_ms = (NUM_IN_FLIGHT_AUCTIONS as f64 * TOTAL_PROPORTION as f64
            / AUCTION_PROPORTION as f64
            * us_per_event
            / 1000.0) as u64;
        let (ooo_prob, ooo_max_ms) = if p.ooo_max_ms < 1 {
            (0.0, 1)
        } else {
            (p.ooo_prob, p.ooo_max_ms)
        };
        let mut g = Generator {
            p: Params {
                ooo_prob,
                ooo_max_ms,
                ..p
            },
            t: Tables::new(p.seed),
            s: Lcg(0),
            next: from - from % CHUNK,
            us_per_event,
            horizon_ms,
            ooo_thresh: (ooo_prob * (1u64 << 32) as f64) as u64,
        };
        g.reseed();
        let mut line = String::new();
        while g.next < from {
            line.clear();
            g.event(&mut line);
        }
        g
    }

    fn reseed(&mut self) {
        let chunk = self.next / CHUNK;
        self.s = Lcg(splitmix64(
            self.p.seed.wrapping_mul(0x100000001B3).wrapping_add(chunk),
        ));
    }

    /// The number of the next event.
    pub fn position(&self) -> u64 {
        self.next
    }

    fn extra(&self, offset: u64, len: u64) -> &str {
        let from = offset as usize;
        let to = (from + len as usize).min(self.t.extra.len());
        std::str::from_utf8(&self.t.extra[from..to]).unwrap_or_default()
    }

    fn extra_offset(&self, s: u64) -> u64 {
        (s & 0xFFFF_FFFF) % (self.t.extra.len() as u64 - 1024)
    }

    /// Writes the next event's JSON line into `out`; `None` after the last event.
    pub fn event(&mut self, out: &mut String) -> Option<Stream> {
        use std::fmt::Write;
        let i = self.next;
        if i >= self.p.events {
            return None;
        }
        if i.is_multiple_of(CHUNK) {
            self.reseed();
        }
        self.next += 1;
        let mut ts = BASE_TIME_MS + ((i as f64 * self.us_per_event) as i64) / 1000;
        if (self.s.step() >> 32) < self.ooo_thresh {
            ts -= 1 + self.s.below(self.p.ooo_max_ms) as i64;
        }
        let (off, epoch) = (i % TOTAL_PROPORTION, i / TOTAL_PROPORTION);
        let people = |epoch: u64, s: &mut Lcg| {
            let num_people = epoch + 1;
            let active = num_people.min(NUM_ACTIVE_PEOPLE);
            num_people - active + s.below(active + ID_LEAD)
        };
        if off >= PERSON_PROPORTION + AUCTION_PROPORTION {
            let last_auction = epoch * AUCTION_PROPORTION + AUCTION_PROPORTION - 1;
            let auction = if self.s.below(HOT_AUCTION_RATIO) > 0 {
                (last_auction / HOT_BATCH) * HOT_BATCH
            } else {
                let lo = last_auction.saturating_sub(NUM_IN_FLIGHT_AUCTIONS);
                lo + self.s.below(last_auction - lo + 1 + ID_LEAD)
            } + FIRST_AUCTION_ID;
            let bidder = if self.s.below(HOT_BIDDERS_RATIO) > 0 {
                (epoch / HOT_BATCH) * HOT_BATCH + 1
            } else {
                people(epoch, &mut self.s)
            } + FIRST_PERSON_ID;
            let price = self.t.prices[(self.s.step() >> 44) as usize];
            let s = self.s.step();
            let cu = if s >> 63 == 1 {
                &self.t.hot_cu[((s >> 61) & 3) as usize]
            } else {
                &self.t.cold_cu[(((s >> 32) * CHANNELS_NUMBER) >> 32) as usize]
            };
            let s = self.s.step();
            let len = 55 + (((s >> 32) * 26) >> 32);
            let extra = self.extra(self.extra_offset(s), len);
            let _ = write!(
                out,
                "{{\"auction\":{auction},\"bidder\":{bidder},\"price\":{price},{cu},\"date_time\":{ts},\"extra\":\"{extra}\"}}"
            );
            Some(Stream::Bid)
        } else if off >= PERSON_PROPORTION {
            let id = epoch * AUCTION_PROPORTION + (off - PERSON_PROPORTION) + FIRST_AUCTION_ID;
            let seller = if self.s.below(HOT_SELLERS_RATIO) > 0 {
                (epoch / HOT_BATCH) * HOT_BATCH
            } else {
                people(epoch, &mut self.s)
            } + FIRST_PERSON_ID;
            let category = FIRST_CATEGORY_ID + self.s.below(NUM_CATEGORIES);
            let initial_bid = self.t.prices[(self.s.step() >> 44) as usize];
            let reserve = initial_bid + self.t.prices[(self.s.step() >> 44) as usize];
            let expires = ts + 1 + self.s.below(self.horizon_ms * 2) as i64;
            let s = self.s.step();
            let name_len = 3 + (((s >> 32) * 17) >> 32);
            let name_at = self.extra_offset(s);
            let s = self.s.step();
            let desc_len = 3 + (((s >> 32) * 97) >> 32);
            let desc_at = self.extra_offset(s);
            let name = self.extra(name_at, name_len).to_string();
            let mut desc = self.extra(desc_at, desc_len).to_string();
            if desc_len > 8 {
                let k = (desc_len / 2) as usize;
                desc.replace_range(k..k + 1, " ");
            }
            let cur = 8 + name.len() as i64 + desc.len() as i64 + 40;
            let (len, at) = self.padding(AVG_AUCTION_BYTES - cur);
            let extra = self.extra(at, len);
            let _ = write!(
                out,
                "{{\"id\":{id},\"item_name\":\"{name}\",\"description\":\"{desc}\",\"initial_bid\":{initial_bid},\"reserve\":{reserve},\"date_time\":{ts},\"expires\":{expires},\"seller\":{seller},\"category\":{category},\"extra\":\"{extra}\"}}"
            );
            Some(Stream::Auction)
        } else {
            let id = epoch + FIRST_PERSON_ID;
            let r = self.s.step() >> 32;
            let name = format!(
                "{} {}",
                FIRST_NAMES[((r * 11) >> 32) as usize],
                LAST_NAMES[(((r & 0xFFFF) * 9) >> 16) as usize]
            );
            let r = self.s.step() >> 32;
            let city = US_CITIES[((r * 10) >> 32) as usize];
            let state = US_STATES[(((r & 0xFFFF) * 6) >> 16) as usize];
            let s = self.s.step();
            let eo = self.extra_offset(s);
            let el = 3 + (((s >> 32) * 4) >> 32);
            let email = format!(
                "{}@{}.com",
                self.extra(eo, el),
                self.extra(eo + 7, 3 + (el & 1))
            );
            let s = self.s.step();
            let cc = format!(
                "{:04} {:04} {:04} {:04}",
                (s >> 48) % 10000,
                ((s >> 32) & 0xFFFF) % 10000,
                ((s >> 16) & 0xFFFF) % 10000,
                (s & 0xFFFF) % 10000
            );
            let cur = 8 + (name.len() + email.len() + cc.len() + city.len() + state.len()) as i64;
            let (len, at) = self.padding(AVG_PERSON_BYTES - cur);
            let extra = self.extra(at, len);
            let _ = write!(
                out,
                "{{\"id\":{id},\"name\":\"{name}\",\"email_address\":\"{email}\",\"credit_card\":\"{cc}\",\"city\":\"{city}\",\"state\":\"{state}\",\"date_time\":{ts},\"extra\":\"{extra}\"}}"
            );
            Some(Stream::Person)
        }
    }

    /// The padding's length (around `avg`, within 20 %) and offset.
    fn padding(&mut self, avg: i64) -> (u64, u64) {
        let delta = (avg as f64 * 0.2).round_ties_even() as i64;
        let s = self.s.step();
        let len = avg - delta + ((((s >> 32) as i128 * (2 * delta) as i128) >> 32) as i64);
        (len.max(0) as u64, self.extra_offset(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_for_bids_ends_at_a_bid() {
        assert_eq!(events_for_bids(46), 50);
        assert_eq!(events_for_bids(47), 55);
        assert_eq!(events_for_bids(10_000_000), 10_869_568);
    }

    #[test]
    fn a_generator_resumes_mid_chunk_with_the_same_events() {
        let p = Params {
            seed: 7,
            rate: 10_000,
            ooo_prob: 0.1,
            ooo_max_ms: 500,
            events: 60_000,
        };
        let all: Vec<String> = {
            let mut g = Generator::new(p, 0);
            (0..60_000)
                .map(|_| {
                    let mut s = String::new();
                    g.event(&mut s).unwrap();
                    s
                })
                .collect()
        };
        let mut g = Generator::new(p, 50_123);
        let mut s = String::new();
        g.event(&mut s).unwrap();
        assert_eq!(s, all[50_123]);
        let mut end = Generator::new(p, 60_000);
        assert_eq!(end.event(&mut s), None);
    }
}
