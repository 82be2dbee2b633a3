//! How face descriptors are stored (enrolled faces' `embedding`, records' `descriptor`): sealed
//! with the data key (hex of a [`Sealer`] blob over the 128 little-endian `f32`s) when the store
//! has one, as a plain array otherwise. Both forms are read, so a database written before
//! encryption at rest opens, and [`Store::seal_descriptors`] seals what is still plain.

use serde::Deserialize;
use serde_json::Value;

use super::query::{Vars, run};
use super::{Store, StoreError};
use crate::EMBEDDING_LEN;
use crate::sealing::Sealer;

/// A stored descriptor as it comes back from the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum StoredDescriptor {
    /// Written without a data key (or before encryption at rest).
    Plain(Vec<f32>),
    /// Hex of a sealed blob.
    Sealed(String),
}

/// Encodes and decodes descriptors for one store.
#[derive(Clone, Copy)]
pub(crate) struct DescriptorCodec<'a> {
    sealer: Option<&'a Sealer>,
}

impl<'a> DescriptorCodec<'a> {
    pub(crate) fn new(sealer: Option<&'a Sealer>) -> Self {
        DescriptorCodec { sealer }
    }

    /// The stored form of `d`; `Invalid` unless it has 128 finite values.
    pub(crate) fn encode(&self, d: &[f32]) -> Result<Value, StoreError> {
        if d.len() != EMBEDDING_LEN || !d.iter().all(|v| v.is_finite()) {
            return Err(StoreError::Invalid(format!(
                "a face descriptor needs {EMBEDDING_LEN} finite values, got {}",
                d.len()
            )));
        }
        match self.sealer {
            None => Ok(serde_json::json!(d)),
            Some(sealer) => {
                let bytes: Vec<u8> = d.iter().flat_map(|v| v.to_le_bytes()).collect();
                let sealed = sealer
                    .seal(&bytes)
                    .map_err(|e| StoreError::Storage(format!("cannot seal a descriptor: {e}")))?;
                Ok(Value::String(hex::encode(sealed)))
            }
        }
    }

    /// [`Self::encode`] of an optional descriptor (`None` stays unbound, so `NONE`).
    pub(crate) fn encode_opt(&self, d: Option<&[f32]>) -> Result<Option<Value>, StoreError> {
        d.map(|d| self.encode(d)).transpose()
    }

    /// The descriptor a stored value holds.
    pub(crate) fn decode(&self, stored: StoredDescriptor) -> Result<Vec<f32>, StoreError> {
        match stored {
            StoredDescriptor::Plain(values) => Ok(values),
            StoredDescriptor::Sealed(text) => {
                let sealer = self.sealer.ok_or_else(|| {
                    StoreError::Storage("a sealed descriptor, and no data key to open it".into())
                })?;
                let sealed = hex::decode(&text)
                    .map_err(|_| StoreError::Storage("a sealed descriptor is not hex".into()))?;
                let bytes = sealer
                    .open(&sealed)
                    .map_err(|e| StoreError::Storage(format!("cannot open a descriptor: {e}")))?;
                Ok(bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
        }
    }

    /// True when `stored` is already sealed with the current key.
    fn is_current(&self, stored: &StoredDescriptor) -> bool {
        match (stored, self.sealer) {
            (StoredDescriptor::Sealed(text), Some(sealer)) => {
                hex::decode(text).is_ok_and(|bytes| sealer.is_current(&bytes))
            }
            _ => false,
        }
    }
}

impl Store {
    /// Seals, with the current data key, every descriptor that is plain or sealed with an
    /// earlier key (after an upgrade, or during a key rotation); answers how many. Nothing to
    /// do without a data key.
    pub async fn seal_descriptors(&self) -> Result<u64, StoreError> {
        if self.sealer.is_none() {
            return Ok(0);
        }
        let codec = self.codec();
        #[derive(Deserialize)]
        struct Row {
            key: String,
            value: StoredDescriptor,
        }
        let mut resealed = 0;
        for (table, field) in [("face", "embedding"), ("attendance", "descriptor")] {
            let mut response = run(
                &self.db,
                format!(
                    "SELECT <string> record::id(id) AS key, {field} AS value FROM {table} WHERE {field} != NONE;"
                ),
                Vars::new(),
            )
            .await?;
            let rows: Vec<Row> = super::query::rows(&mut response, 0, table)?;
            for row in rows {
                if codec.is_current(&row.value) {
                    continue;
                }
                // One that no key opens is left as it is (logged), not a reason to stop.
                let plain = match codec.decode(row.value) {
                    Ok(plain) => plain,
                    Err(error) => {
                        tracing::warn!(%error, table, key = %row.key, "a face descriptor no known key opens");
                        continue;
                    }
                };
                run(
                    &self.db,
                    format!("UPDATE type::record('{table}', $key) SET {field} = $value;"),
                    Vars::new()
                        .str("key", row.key)
                        .json("value", codec.encode(&plain)?),
                )
                .await?;
                resealed += 1;
            }
        }
        Ok(resealed)
    }
}
