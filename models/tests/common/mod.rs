//! Helpers shared by the store tests.

use cavs_models::store::Store;

/// Opens the on-disk store at `url` again: the engine releases its lock file shortly after the
/// last handle of the previous opening is dropped, so a "locked" error is retried (10 s).
pub async fn reopen(url: &str) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(url).await {
            Ok(store) => return store,
            Err(error) if std::time::Instant::now() < deadline => {
                assert!(error.to_string().contains("locked"), "{error}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => panic!("reopen failed: {error}"),
        }
    }
}
