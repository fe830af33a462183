//! Which files make up the AOF a user points at, in the order Redis reads them.
//!
//! `rtool aof dump` and `aof check` take a path that may be any of the three layouts Redis
//! knows, told apart the way `redis-check-aof` does (`getInputFileType`):
//! - a **manifest** (a file with a non-comment line starting with `file`): the multi-part AOF
//!   of Redis 7, whose parts live next to it;
//! - a file starting with `REDIS` (and at least 8 bytes long): an old-style single AOF with an
//!   RDB preamble (Redis 4-6 with `aof-use-rdb-preamble yes`);
//! - anything else: an old-style single AOF of commands.
//!
//! rtool also accepts the AOF **directory** (`appendonlydir`) and finds the manifest in it,
//! or Redis's data directory (`--dir`), where it looks for `appendonlydir/` and then for an
//! old-style `appendonly.aof`.
//! This is shell code (it looks at files); the decoding is [`super::reader`]'s.

use super::manifest::{FileType, Manifest, ManifestError};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `redis-check-aof`'s `MANIFEST_MAX_LINE`.
const MANIFEST_MAX_LINE: usize = 1024;

/// One file of an AOF, as the manifest (or the user) names it.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// The name as written in the manifest (or the path as given, for a single file).
    pub name: String,
    pub path: PathBuf,
    /// `None` for an old-style single file.
    pub kind: Option<FileType>,
    pub seq: Option<i64>,
    /// Whether loading reads it (base and incr files; history files are never read).
    pub loaded: bool,
    /// Its size, `None` when it is missing.
    pub size: Option<u64>,
}

/// What the user's path turned out to be.
#[derive(Clone, Debug)]
pub enum Layout {
    /// An old-style single file (with or without an RDB preamble).
    Single(Part),
    /// Redis 7's multi-part AOF.
    Multi {
        /// The directory holding the parts.
        dir: PathBuf,
        manifest_path: PathBuf,
        manifest: Manifest,
        /// Every entry in manifest order (base, history, incr).
        parts: Vec<Part>,
    },
}

/// Why the path is not an AOF rtool can read.
#[derive(Debug)]
pub enum LayoutError {
    Io(PathBuf, std::io::Error),
    /// A directory without a `*.manifest` file (or with several).
    NoManifest(PathBuf, &'static str),
    Manifest(PathBuf, ManifestError),
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::Io(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            LayoutError::NoManifest(p, why) => write!(f, "{}: {why}", p.display()),
            // Redis's own wording, prefixed like its log line.
            LayoutError::Manifest(p, e) => write!(
                f,
                "Invalid AOF manifest file format in {}: {e}",
                p.display()
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

impl Layout {
    /// Works out the layout of `path` (a directory, a manifest, or a single file).
    pub fn open(path: &Path) -> Result<Layout, LayoutError> {
        let io = |e| LayoutError::Io(path.to_path_buf(), e);
        let meta = std::fs::metadata(path).map_err(io)?;
        let manifest_path = if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "manifest") && p.is_file())
                .collect();
            found.sort();
            match found.len() {
                // Redis's `--dir` rather than the AOF directory: look in its default
                // `appenddirname`, then for an old-style `appendonly.aof`.
                0 if path.join("appendonlydir").is_dir() => {
                    return Layout::open(&path.join("appendonlydir"));
                }
                0 if path.join("appendonly.aof").is_file() => {
                    return Layout::open(&path.join("appendonly.aof"));
                }
                0 => {
                    return Err(LayoutError::NoManifest(
                        path.to_path_buf(),
                        "no *.manifest file in this directory",
                    ));
                }
                1 => found.remove(0),
                _ => {
                    return Err(LayoutError::NoManifest(
                        path.to_path_buf(),
                        "several *.manifest files in this directory: name one",
                    ));
                }
            }
        } else if is_manifest(path).map_err(io)? {
            path.to_path_buf()
        } else {
            return Ok(Layout::Single(Part {
                name: path.display().to_string(),
                path: path.to_path_buf(),
                kind: None,
                seq: None,
                loaded: true,
                size: Some(meta.len()),
            }));
        };
        let text =
            std::fs::read(&manifest_path).map_err(|e| LayoutError::Io(manifest_path.clone(), e))?;
        let manifest =
            Manifest::parse(&text).map_err(|e| LayoutError::Manifest(manifest_path.clone(), e))?;
        // C's dirname: "." for a bare file name (Redis then names parts "./<file>").
        let dir = match manifest_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let parts = manifest
            .entries()
            .map(|e| {
                let p = dir.join(&e.name);
                Part {
                    name: e.name.clone(),
                    size: std::fs::metadata(&p).ok().map(|m| m.len()),
                    path: p,
                    kind: Some(e.kind),
                    seq: Some(e.seq),
                    loaded: e.kind != FileType::History,
                }
            })
            .collect();
        Ok(Layout::Multi {
            dir,
            manifest_path,
            manifest,
            parts,
        })
    }

    /// The files loading reads, in order (base, then incr files).
    pub fn load_order(&self) -> Vec<&Part> {
        match self {
            Layout::Single(p) => vec![p],
            Layout::Multi { parts, .. } => {
                let base = parts.iter().filter(|p| p.kind == Some(FileType::Base));
                let incr = parts.iter().filter(|p| p.kind == Some(FileType::Incr));
                base.chain(incr).collect()
            }
        }
    }
}

/// `redis-check-aof`'s `fileIsManifest`: some line not starting with `#` starts with `file`.
pub fn is_manifest(path: &Path) -> std::io::Result<bool> {
    let mut data = Vec::new();
    // A manifest is small; a big file is read only as far as its first real line.
    std::fs::File::open(path)?
        .take(1 << 20)
        .read_to_end(&mut data)?;
    let mut rest = &data[..];
    while !rest.is_empty() {
        // fgets(buf, 1025): lines longer than the limit arrive in pieces.
        let n = match memchr::memchr(b'\n', &rest[..rest.len().min(MANIFEST_MAX_LINE)]) {
            Some(i) => i + 1,
            None => rest.len().min(MANIFEST_MAX_LINE),
        };
        let (line, next) = rest.split_at(n);
        if line.first() != Some(&b'#') && line.starts_with(b"file") {
            return Ok(true);
        }
        rest = next;
    }
    Ok(false)
}

/// `redis-check-aof`'s `fileIsRDB`: at least 8 bytes, starting with `REDIS`.
pub fn is_rdb(path: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 5];
    let mut f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    Ok(size >= 8 && f.read_exact(&mut head).is_ok() && &head == b"REDIS")
}
