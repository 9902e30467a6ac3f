//! Push queries (and PRINTs) open at once: at most `ksql.max.push.queries` in all and
//! `brooklet.push.queries.per.client` per client (the authenticated user, or the address), so
//! one client cannot take every query slot nor pin the server's memory with endless streams.
//! A slot is held for as long as the query's response is being written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct PushSlots {
    open: Mutex<(usize, HashMap<String, usize>)>,
}

/// A slot, given back when dropped.
pub struct Slot {
    slots: Arc<PushSlots>,
    client: String,
}

/// Why no slot was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Total(usize),
    Client(usize),
}

impl PushSlots {
    pub fn take(
        self: &Arc<Self>,
        client: &str,
        total: usize,
        per_client: usize,
    ) -> Result<Slot, Refused> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= total {
            return Err(Refused::Total(total));
        }
        let mine = open.1.entry(client.to_string()).or_insert(0);
        if *mine >= per_client {
            return Err(Refused::Client(per_client));
        }
        *mine += 1;
        open.0 += 1;
        Ok(Slot {
            slots: self.clone(),
            client: client.to_string(),
        })
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.open.lock().unwrap().0
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.client);
            }
        }
    }
}

impl Refused {
    pub fn message(&self) -> String {
        match self {
            Refused::Total(n) => format!(
                "Maximum number of push queries exceeded: {n} are running (ksql.max.push.queries)"
            ),
            Refused::Client(n) => format!(
                "Maximum number of push queries exceeded: this client runs {n} (brooklet.push.queries.per.client)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_per_client_and_in_all() {
        let slots = Arc::new(PushSlots::default());
        let a1 = slots.take("a", 3, 2).unwrap();
        let _a2 = slots.take("a", 3, 2).unwrap();
        assert_eq!(slots.take("a", 3, 2).err(), Some(Refused::Client(2)));
        let _b1 = slots.take("b", 3, 2).unwrap();
        assert_eq!(slots.take("c", 3, 2).err(), Some(Refused::Total(3)));
        drop(a1);
        assert_eq!(slots.open(), 2);
        assert!(slots.take("c", 3, 2).is_ok());
    }
}
