//! The web app's files, embedded at build time by `build.rs` from `hub/web/`.

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// One embedded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// Its bytes.
    pub bytes: &'static [u8],
    /// Its `Content-Type`.
    pub media_type: &'static str,
    /// Its entity tag (a hash of the bytes, quoted).
    pub etag: &'static str,
}

/// The file served at `path` (`/` is `/index.html`).
pub fn find(path: &str) -> Option<Asset> {
    let path = if path == "/" { "/index.html" } else { path };
    WEB_ASSETS
        .iter()
        .find(|(served, ..)| *served == path)
        .map(|&(_, bytes, media_type, etag)| Asset {
            bytes,
            media_type,
            etag,
        })
}

/// What a GET of `path` answers, outside the API: the file, or for a path that names no
/// file and looks like an app route (no extension), the app's page, which routes it itself.
pub fn for_path(path: &str) -> Option<Asset> {
    find(path).or_else(|| {
        let last = path.rsplit('/').next().unwrap_or_default();
        (!last.contains('.')).then(|| find("/index.html")).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_served_at_the_root_and_for_app_routes_but_not_for_missing_files() {
        let page = find("/index.html").expect("index.html is embedded");
        assert!(page.media_type.starts_with("text/html"));
        assert_eq!(for_path("/"), Some(page));
        assert_eq!(for_path("/lesson"), Some(page));
        assert_eq!(for_path("/js/missing.js"), None);
        let script = find("/js/app.js").expect("app.js is embedded");
        assert!(script.media_type.starts_with("text/javascript"));
        assert_ne!(script.etag, page.etag);
    }
}
