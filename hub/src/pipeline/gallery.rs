//! The shared gallery of enrolled descriptors: read by every recognizer worker, rebuilt from
//! the store and swapped atomically whenever enrollment changes. Each rebuild takes a
//! generation number before it reads the store, and only a newer generation replaces the
//! gallery: of two overlapping reloads, the one that read the store later wins even if it
//! finishes first.

use std::sync::atomic::{AtomicU64, Ordering};
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

/// The gallery in effect and the generation of the reload that built it.
#[derive(Default)]
struct Installed {
    generation: u64,
    gallery: Arc<Gallery<StudentKey>>,
}

/// A gallery shared between threads; readers take a cheap `Arc` snapshot.
#[derive(Clone, Default)]
pub struct SharedGallery {
    current: Arc<RwLock<Installed>>,
    /// The last generation handed to a reload.
    issued: Arc<AtomicU64>,
}

impl SharedGallery {
    /// The gallery in effect now.
    pub fn snapshot(&self) -> Arc<Gallery<StudentKey>> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard.gallery),
            Err(poisoned) => Arc::clone(&poisoned.into_inner().gallery),
        }
    }

    /// Installs `gallery` if `generation` is newer than the one in effect; false when a newer
    /// reload already installed its gallery (this one is dropped).
    fn install(&self, generation: u64, gallery: Arc<Gallery<StudentKey>>) -> bool {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        if generation <= guard.generation {
            return false;
        }
        *guard = Installed {
            generation,
            gallery,
        };
        true
    }

    /// Rebuilds the gallery from every stored descriptor and swaps it in unless a newer reload
    /// won the race; returns its size.
    pub async fn reload(&self, store: &Store) -> Result<usize, StoreError> {
        let generation = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
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
        if self.install(generation, Arc::new(gallery)) {
            tracing::info!(descriptors = size, generation, "face gallery loaded");
        } else {
            tracing::debug!(
                generation,
                "a newer gallery reload finished first; this one is dropped"
            );
        }
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gallery_of(faces: usize) -> Arc<Gallery<StudentKey>> {
        let mut gallery = Gallery::new();
        for n in 0..faces {
            let mut values = [0.0f32; 128];
            values[n % 128] = 1.0;
            gallery.insert(
                StudentKey {
                    id: Uuid::now_v7(),
                    name: Arc::from(format!("student {n}").as_str()),
                },
                Descriptor::from_slice(&values).expect("128 values"),
            );
        }
        Arc::new(gallery)
    }

    #[test]
    fn an_older_reload_finishing_last_does_not_replace_a_newer_gallery() {
        let shared = SharedGallery::default();
        assert!(shared.install(2, gallery_of(3)));
        assert!(!shared.install(1, gallery_of(1)), "generation 1 is older");
        assert_eq!(shared.snapshot().len(), 3);
        assert!(
            !shared.install(2, gallery_of(5)),
            "the same generation twice"
        );
        assert!(shared.install(3, gallery_of(0)));
        assert_eq!(shared.snapshot().len(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn reloads_take_increasing_generations_from_the_real_store() {
        let store = Store::open("mem://").await.expect("store");
        let shared = SharedGallery::default();
        assert_eq!(shared.reload(&store).await.expect("reload"), 0);
        assert_eq!(shared.reload(&store).await.expect("reload"), 0);
        let installed = shared.current.read().expect("lock").generation;
        assert_eq!(installed, 2);
    }
}
