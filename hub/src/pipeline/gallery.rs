//! The shared gallery of enrolled descriptors: read by every recognizer worker, rebuilt from
//! the store and swapped atomically whenever enrollment changes.

use std::sync::{Arc, RwLock};

use cavs_models::store::{Store, StoreError};
use cavs_recognizer::{Descriptor, Gallery};
use uuid::Uuid;

/// Gallery subject: a student's id and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StudentKey {
    /// Student id.
    pub id: Uuid,
    /// Display name.
    pub name: Arc<str>,
}

/// A gallery shared between threads; readers take a cheap `Arc` snapshot.
#[derive(Clone, Default)]
pub struct SharedGallery {
    current: Arc<RwLock<Arc<Gallery<StudentKey>>>>,
}

impl SharedGallery {
    /// The gallery in effect now.
    pub fn snapshot(&self) -> Arc<Gallery<StudentKey>> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Rebuilds the gallery from every stored descriptor and swaps it in; returns its size.
    pub async fn reload(&self, store: &Store) -> Result<usize, StoreError> {
        let faces = store.faces().all().await?;
        let mut gallery = Gallery::new();
        for (face, name) in faces {
            if let Some(descriptor) = Descriptor::from_slice(&face.embedding) {
                gallery.insert(
                    StudentKey {
                        id: face.student_id,
                        name: Arc::from(name.as_str()),
                    },
                    descriptor,
                );
            }
        }
        let size = gallery.len();
        let gallery = Arc::new(gallery);
        match self.current.write() {
            Ok(mut guard) => *guard = gallery,
            Err(poisoned) => *poisoned.into_inner() = gallery,
        }
        tracing::info!(descriptors = size, "face gallery loaded");
        Ok(size)
    }
}
