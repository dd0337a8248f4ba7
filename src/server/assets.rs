//! Pre-compressed static files. `halite assets compress [DIR]` writes `<file>.br` (brotli,
//! quality 11) and `<file>.gz` (gzip, level 9) beside every compressible file under the site
//! root; the static file handler (leptos_axum's, a tower-http `ServeDir` with
//! `precompressed_br` and `precompressed_gzip`) then answers a browser that accepts them with
//! the smaller file and `Content-Encoding`, instead of compressing the WASM bundle again on
//! every request at a fast, weak level. `make run`, `make build-release` and the container
//! image run it after `cargo leptos build --release`.
//!
//! Written here rather than with a separate tool (`brotli`/`pigz` binaries, a precompress npm
//! package) so the build needs nothing beyond the Rust toolchain; the encoders are the
//! `brotli` and `flate2` crates.

use std::io::Write;
use std::path::{Path, PathBuf};

/// File endings worth compressing (text and WASM; images and fonts are compressed already).
const EXTS: [&str; 7] = ["wasm", "js", "css", "svg", "html", "json", "txt"];
/// Smaller files are sent as they are (the headers would cost more than is saved).
const MIN_BYTES: u64 = 1024;

/// One compressed file: its sizes raw, gzip and brotli.
#[derive(Debug, Clone, PartialEq)]
pub struct Compressed {
    pub path: PathBuf,
    pub raw: u64,
    pub gzip: u64,
    pub brotli: u64,
    /// Both siblings were newer than the file: nothing was written.
    pub up_to_date: bool,
}

fn compressible(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTS.contains(&e))
}

fn modified(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn sibling(p: &Path, ext: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Write `bytes` to `dest` through a temporary file in the same folder, so a server reading
/// the folder never sees half a file.
fn write_atomic(dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = sibling(dest, "tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dest)
}

/// Gzip at level 9.
pub fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(raw)?;
    enc.finish()
}

/// Brotli at quality 11 with a 16 MiB window (what `brotli -q 11` does for a large file).
pub fn brotli(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        size_hint: raw.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params)?;
    Ok(out)
}

/// Compress one file unless both siblings are newer than it.
fn compress_file(p: &Path) -> std::io::Result<Compressed> {
    let (br, gz) = (sibling(p, "br"), sibling(p, "gz"));
    let src = modified(p);
    let fresh = |q: &Path| modified(q).is_some_and(|m| src.is_some_and(|s| m >= s));
    let up_to_date = fresh(&br) && fresh(&gz);
    if !up_to_date {
        let raw = std::fs::read(p)?;
        write_atomic(&gz, &gzip(&raw)?)?;
        write_atomic(&br, &brotli(&raw)?)?;
    }
    let len = |q: &Path| std::fs::metadata(q).map(|m| m.len());
    Ok(Compressed {
        path: p.to_path_buf(),
        raw: len(p)?,
        gzip: len(&gz)?,
        brotli: len(&br)?,
        up_to_date,
    })
}

/// Compress every compressible file of at least [`MIN_BYTES`] under `root` (recursively),
/// in path order.
pub fn compress_dir(root: &Path) -> std::io::Result<Vec<Compressed>> {
    let mut files = vec![];
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let path = entry.path();
            if ty.is_dir() {
                dirs.push(path);
            } else if ty.is_file() && compressible(&path) && entry.metadata()?.len() >= MIN_BYTES {
                files.push(path);
            }
        }
    }
    files.sort();
    files.iter().map(|p| compress_file(p)).collect()
}

/// The bundle's file names. A release or debug build by cargo-leptos with `hash-files = true`
/// (Cargo.toml) names them `halite.<hash>.{js,wasm,css}` and writes the hashes to `hash.txt`
/// beside the server binary, where leptos' `HydrationScripts` and `HashedStylesheet` read them.
/// A name that changes with the content can be cached for good (`immutable`); a binary without
/// `hash.txt` beside it (the test binaries) serves the plain names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bundle {
    /// `hash.txt` was found: the names below carry their hashes.
    pub hashed: bool,
    /// The stylesheet's path, e.g. `/pkg/halite.3Gk2….css`.
    pub css_href: String,
    /// File names under `/pkg/` that carry a content hash.
    immutable: Vec<String>,
}

impl Bundle {
    /// Names from a `hash.txt` (`js: <hash>` lines); `None` for no file.
    pub fn from_hashes(output_name: &str, hashes: Option<&str>) -> Self {
        let mut b = Bundle {
            hashed: hashes.is_some(),
            css_href: format!("/pkg/{output_name}.css"),
            immutable: vec![],
        };
        let hashes = hashes.unwrap_or_default();
        for (kind, hash) in hashes.lines().filter_map(|l| l.trim().split_once(':')) {
            let (kind, hash) = (kind.trim(), hash.trim());
            if hash.is_empty()
                || !hash
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            {
                continue;
            }
            if matches!(kind, "js" | "wasm" | "css") {
                let name = format!("{output_name}.{hash}.{kind}");
                if kind == "css" {
                    b.css_href = format!("/pkg/{name}");
                }
                b.immutable.push(name);
            }
        }
        b
    }

    /// May the file at `/pkg/<name>` (or its `.br`/`.gz` sibling's request path) be cached for good?
    pub fn is_immutable(&self, name: &str) -> bool {
        self.immutable.iter().any(|n| n == name)
    }
}

/// This binary's bundle, read once from `hash.txt` beside it.
pub fn bundle() -> &'static Bundle {
    static BUNDLE: std::sync::OnceLock<Bundle> = std::sync::OnceLock::new();
    BUNDLE.get_or_init(|| {
        let hashes = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("hash.txt")))
            .and_then(|p| std::fs::read_to_string(p).ok());
        Bundle::from_hashes("halite", hashes.as_deref())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn hashed_names_come_from_hash_txt() {
        let plain = Bundle::from_hashes("halite", None);
        assert!(!plain.hashed);
        assert_eq!(plain.css_href, "/pkg/halite.css");
        assert!(!plain.is_immutable("halite.wasm"));

        let b = Bundle::from_hashes(
            "halite",
            Some("js: AbC-12_x\nwasm: ZZ9\ncss: q1\nother: nope\nbad: a/b\n"),
        );
        assert!(b.hashed);
        assert_eq!(b.css_href, "/pkg/halite.q1.css");
        assert!(b.is_immutable("halite.AbC-12_x.js"));
        assert!(b.is_immutable("halite.ZZ9.wasm"));
        assert!(!b.is_immutable("halite.wasm"));
        assert!(!b.is_immutable("halite.nope.other"));
        // A hash that would make a path is ignored.
        let b = Bundle::from_hashes("halite", Some("css: ../x\n"));
        assert_eq!(b.css_href, "/pkg/halite.css");
    }

    #[test]
    fn writes_both_siblings_that_decode_to_the_file_and_skips_fresh_ones() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        let js: Vec<u8> = (0..4000)
            .flat_map(|i| format!("function f{i}() {{ return {i}; }}\n").into_bytes())
            .collect();
        std::fs::write(pkg.join("halite.js"), &js).unwrap();
        std::fs::write(pkg.join("tiny.css"), "a{}").unwrap();
        std::fs::write(pkg.join("logo.png"), vec![7u8; 4096]).unwrap();

        let out = compress_dir(dir.path()).unwrap();
        assert_eq!(out.len(), 1, "only the large text file: {out:?}");
        let c = &out[0];
        assert!(!c.up_to_date);
        assert_eq!(c.raw, js.len() as u64);
        assert!(c.brotli < c.gzip && c.gzip < c.raw / 4, "{c:?}");

        let mut back = vec![];
        flate2::read::GzDecoder::new(&std::fs::read(pkg.join("halite.js.gz")).unwrap()[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, js);
        let mut back = vec![];
        brotli::BrotliDecompress(
            &mut &std::fs::read(pkg.join("halite.js.br")).unwrap()[..],
            &mut back,
        )
        .unwrap();
        assert_eq!(back, js);
        assert!(!pkg.join("tiny.css.br").exists() && !pkg.join("logo.png.br").exists());

        // A second run leaves fresh siblings alone; a changed file is compressed again.
        assert!(compress_dir(dir.path()).unwrap()[0].up_to_date);
        std::fs::write(pkg.join("halite.js"), [&js[..], b"// more\n"].concat()).unwrap();
        // Newer than its siblings whatever the file system's time granularity.
        std::fs::File::options()
            .write(true)
            .open(pkg.join("halite.js"))
            .unwrap()
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        assert!(!compress_dir(dir.path()).unwrap()[0].up_to_date);
    }
}
