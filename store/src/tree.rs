//! One tree of the index: a sled tree, or, for a reader of the index snapshot, a sorted map in
//! memory (loading a snapshot into maps costs far less than opening any sled database). Reads
//! answer alike; writes exist only on sled trees (a snapshot store refuses them before it gets
//! here, see `Store::writable`).

use std::collections::BTreeMap;
use std::sync::Arc;

use sled::IVec;

/// One entry, as sled yields it.
pub(crate) type Entry = Result<(IVec, IVec), sled::Error>;

/// A tree of the index.
#[derive(Debug, Clone)]
pub(crate) enum Tree {
    /// The store's own index.
    Sled(sled::Tree),
    /// A snapshot's entries.
    Memory(Arc<BTreeMap<Vec<u8>, Vec<u8>>>),
}

impl Tree {
    /// The value at `key`.
    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, sled::Error> {
        match self {
            Tree::Sled(t) => t.get(key),
            Tree::Memory(m) => Ok(m.get(key.as_ref()).map(|v| IVec::from(v.as_slice()))),
        }
    }

    /// Every entry, in key order.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = Entry> + '_> {
        match self {
            Tree::Sled(t) => Box::new(t.iter()),
            Tree::Memory(m) => Box::new(
                m.iter()
                    .map(|(k, v)| Ok((IVec::from(k.as_slice()), IVec::from(v.as_slice())))),
            ),
        }
    }

    /// The entries whose key starts with `prefix`, in key order.
    pub(crate) fn scan_prefix(
        &self,
        prefix: impl AsRef<[u8]>,
    ) -> Box<dyn Iterator<Item = Entry> + '_> {
        match self {
            Tree::Sled(t) => Box::new(t.scan_prefix(prefix)),
            Tree::Memory(m) => {
                let prefix = prefix.as_ref().to_vec();
                Box::new(
                    m.range(prefix.clone()..)
                        .take_while(move |(k, _)| k.starts_with(&prefix))
                        .map(|(k, v)| Ok((IVec::from(k.as_slice()), IVec::from(v.as_slice())))),
                )
            }
        }
    }

    /// Whether `key` has a value.
    pub(crate) fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool, sled::Error> {
        match self {
            Tree::Sled(t) => t.contains_key(key),
            Tree::Memory(m) => Ok(m.contains_key(key.as_ref())),
        }
    }

    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        match self {
            Tree::Sled(t) => t.len(),
            Tree::Memory(m) => m.len(),
        }
    }

    /// The sled tree, for writes and transactions.
    pub(crate) fn sled(&self) -> Result<&sled::Tree, sled::Error> {
        match self {
            Tree::Sled(t) => Ok(t),
            Tree::Memory(_) => Err(sled::Error::Unsupported(
                "the index snapshot is read-only".into(),
            )),
        }
    }

    /// Inserts `value` at `key` (sled trees only).
    pub(crate) fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl Into<IVec>,
    ) -> Result<Option<IVec>, sled::Error> {
        self.sled()?.insert(key, value)
    }

    /// Removes `key` (sled trees only).
    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, sled::Error> {
        self.sled()?.remove(key)
    }
}
