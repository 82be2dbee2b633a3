//! Embeds the web app: every file under `web/` becomes an entry of `WEB_ASSETS` (served path,
//! bytes, media type, ETag) in `$OUT_DIR/web_assets.rs`, included by `src/web/assets.rs`.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") | Some("webmanifest") => "application/manifest+json",
        Some("txt") | Some("md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    files_under(&root, &mut files).expect("hub/web must exist and be readable");
    files.sort();
    let mut table = String::from("&[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let bytes = std::fs::read(file).expect("readable web asset");
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        let served = file
            .strip_prefix(&root)
            .expect("under web/")
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            table,
            "    (\"/{served}\", include_bytes!({:?}), {:?}, \"\\\"{:016x}\\\"\"),",
            file.display().to_string(),
            media_type(file),
            hasher.finish()
        )
        .expect("write to a String");
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(
        out.join("web_assets.rs"),
        format!("/// The embedded web app: (path, bytes, media type, ETag).\npub static WEB_ASSETS: &[(&str, &[u8], &str, &str)] = {table};\n"),
    )
    .expect("write web_assets.rs");
}
