//! The state store: operator checkpoints kept beside the log, so a restarted query loads its
//! state instead of rebuilding it from the start of its input. A checkpoint is one blob per
//! name, framed with a magic number, length and CRC, and replaced atomically (write to a
//! temporary file, fsync, rename): a crash leaves the old checkpoint or the new one, never a
//! mix. A checkpoint that fails its check is ignored (the query rebuilds from its input).

pub mod changelog;
pub mod table;

use crate::error::{Error, Result};
use hashbrown::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

const MAGIC: &[u8; 8] = b"BRKSTAT1";

pub trait StateStore: Send + Sync {
    fn save(&self, name: &str, bytes: &[u8]) -> Result<()>;
    /// The last saved checkpoint, if there is a valid one.
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>>;
    fn remove(&self, name: &str) -> Result<()>;
}

fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
    out.extend_from_slice(bytes);
    out
}

fn unframe(data: &[u8]) -> Option<&[u8]> {
    let rest = data.strip_prefix(MAGIC)?;
    let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(rest.get(8..12)?.try_into().ok()?);
    let body = rest.get(12..)?;
    (body.len() == len && crc32fast::hash(body) == crc).then_some(body)
}

/// Checkpoints as files in a directory.
pub struct DiskStore {
    dir: PathBuf,
}

impl DiskStore {
    pub fn new(dir: PathBuf) -> Result<DiskStore> {
        std::fs::create_dir_all(&dir)?;
        Ok(DiskStore { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        // Names are query ids; keep them to safe file names.
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.ckpt"))
    }
}

impl StateStore for DiskStore {
    fn save(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(name);
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&frame(bytes))?;
        // A failed fsync stops the process (see `log::durability`).
        crate::log::durability::fsync(&f, &tmp);
        std::fs::rename(&tmp, &path)?;
        crate::log::durability::fsync_path(&self.dir);
        Ok(())
    }

    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let data = match std::fs::read(self.path(name)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match unframe(&data) {
            Some(body) => Ok(Some(body.to_vec())),
            None => {
                tracing::warn!(checkpoint = name, "ignoring a damaged checkpoint");
                Ok(None)
            }
        }
    }

    fn remove(&self, name: &str) -> Result<()> {
        match std::fs::remove_file(self.path(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Checkpoints in memory (engines without a data directory).
#[derive(Default)]
pub struct MemoryStore {
    blobs: Mutex<HashMap<String, Vec<u8>>>,
}

impl StateStore for MemoryStore {
    fn save(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.blobs
            .lock()
            .map_err(|_| Error::generic("state store poisoned"))?
            .insert(name.to_string(), bytes.to_vec());
        Ok(())
    }

    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .blobs
            .lock()
            .map_err(|_| Error::generic("state store poisoned"))?
            .get(name)
            .cloned())
    }

    fn remove(&self, name: &str) -> Result<()> {
        self.blobs
            .lock()
            .map_err(|_| Error::generic("state store poisoned"))?
            .remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_damage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::new(dir.path().to_path_buf()).unwrap();
        assert_eq!(store.load("Q_1").unwrap(), None);
        store.save("Q_1", b"first").unwrap();
        store.save("Q_1", b"second").unwrap();
        assert_eq!(store.load("Q_1").unwrap().as_deref(), Some(&b"second"[..]));
        // A flipped byte fails the CRC: no checkpoint rather than a wrong one.
        let path = store.path("Q_1");
        let mut data = std::fs::read(&path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 1;
        std::fs::write(&path, data).unwrap();
        assert_eq!(store.load("Q_1").unwrap(), None);
        store.remove("Q_1").unwrap();
        assert!(!path.exists());
    }
}
