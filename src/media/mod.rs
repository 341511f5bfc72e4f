//! The local media cache: images and videos that channels fetch from an upstream (generated
//! images, videos), kept on disk and served by the gateway itself at
//! `/v1/files/{image|video}/<name>` (`server::files`).
//!
//! **Layout.** `data_dir/media/image/` and `data_dir/media/video/`. A file's name is the
//! lowercase hex SHA-256 of its *content* plus the extension of its mime type (`image/jpeg` →
//! `jpg`, `png`, `webp`, `gif`, `video/mp4` → `mp4`, `webm`); nothing else is cached. The same
//! content is stored once, whoever asked for it, and a name never changes meaning, so clients
//! may cache a file forever. [`name::check`] is the one validation of names, used by the files
//! route, the admin API and this module.
//!
//! **Writes** go to a temporary file in the same directory (a dot name that no valid name
//! matches), then are renamed into place: a reader sees the whole file or none. Writing content
//! already cached only refreshes its recency.
//!
//! **Size cap.** `media_cache_max_bytes` (0 = unlimited). An in-memory index (built by scanning
//! the directories at start; leftover temporary files are removed then) knows every file's size
//! and recency: the last time it was served or written (since start; before that, its
//! modification time). After each write the least recently used files are removed until the
//! cache fits, never the file just written.
//!
//! [`fetch`] is the safe downloader channels use to get upstream assets and client-provided
//! image URLs.

pub mod fetch;
pub mod name;

use crate::channels::MediaSink;
use crate::ir::{MediaKind, MediaRef};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use name::{FileName, InvalidName};

const KINDS: [MediaKind; 2] = [MediaKind::Image, MediaKind::Video];

/// How to build a [`MediaCache`].
#[derive(Debug, Clone)]
pub struct MediaOptions {
    /// The cache's own directory (`data_dir/media`); `image/` and `video/` are made under it.
    pub dir: PathBuf,
    /// `public_base_url`: links are `{base}/v1/files/...` when set, paths otherwise.
    pub public_base_url: Option<String>,
    /// `media_cache_max_bytes`; 0 = unlimited.
    pub max_bytes: u64,
}

impl MediaOptions {
    pub fn from_config(config: &crate::config::Config) -> MediaOptions {
        MediaOptions {
            dir: config.data_dir.join("media"),
            public_base_url: config.public_base_url.clone(),
            max_bytes: config.media_cache_max_bytes,
        }
    }
}

/// The media cache. Cheap to clone: clones share the directory and the index.
#[derive(Clone)]
pub struct MediaCache {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// `public_base_url` without a trailing slash, or empty.
    base_url: String,
    max_bytes: u64,
    index: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    files: HashMap<(MediaKind, String), Entry>,
    bytes: u64,
    /// The recency clock: each write or serve takes the next tick.
    tick: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    size: u64,
    /// When the file was written (Unix ms).
    written: i64,
    /// Tick of the write: orders files written within one millisecond.
    seq: u64,
    /// Recency tick of the last write or serve.
    used: u64,
}

/// Count and bytes of a set of files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub count: u64,
    pub bytes: u64,
}

/// What the cache holds: per type and in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub image: Totals,
    pub video: Totals,
    pub total: Totals,
}

/// One cached file, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub kind: MediaKind,
    pub name: String,
    pub url: String,
    pub size: u64,
    /// When it was written (Unix ms).
    pub updated_at: i64,
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Files matching the filter, over every page.
    pub total: u64,
}

/// What a clear removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub count: u64,
    pub bytes: u64,
}

/// A cached file found for serving.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    pub size: u64,
}

impl MediaCache {
    /// Creates the directories, removes leftover temporary files and indexes what is there
    /// (then trims it to the cap).
    pub async fn open(options: MediaOptions) -> io::Result<MediaCache> {
        tokio::task::spawn_blocking(move || MediaCache::open_blocking(options)).await.map_err(join_error)?
    }

    fn open_blocking(options: MediaOptions) -> io::Result<MediaCache> {
        let mut found = Vec::new();
        for kind in KINDS {
            let dir = options.dir.join(kind.as_str());
            std::fs::create_dir_all(&dir)?;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let file_name = entry.file_name();
                let Some(file_name) = file_name.to_str() else { continue };
                let meta = entry.metadata()?;
                if !meta.is_file() {
                    continue;
                }
                if file_name.starts_with('.') && file_name.contains(".tmp-") {
                    let _ = std::fs::remove_file(entry.path());
                    continue;
                }
                if name::check_name(kind, file_name).is_err() {
                    continue;
                }
                let written = meta.modified().map(unix_ms).unwrap_or(0);
                found.push((kind, file_name.to_string(), meta.len(), written));
            }
        }
        // Oldest first, so that recency ticks follow the modification times.
        found.sort_by(|a, b| a.3.cmp(&b.3).then_with(|| a.1.cmp(&b.1)));
        let mut index = Index::default();
        for (kind, file_name, size, written) in found {
            index.tick += 1;
            index.bytes += size;
            index.files.insert((kind, file_name), Entry { size, written, seq: index.tick, used: index.tick });
        }
        let cache = MediaCache {
            inner: Arc::new(Inner {
                dir: options.dir,
                base_url: options.public_base_url.unwrap_or_default().trim_end_matches('/').to_string(),
                max_bytes: options.max_bytes,
                index: Mutex::new(index),
            }),
        };
        let mut index = cache.inner.lock();
        cache.inner.evict(&mut index, None);
        drop(index);
        Ok(cache)
    }

    /// The cache's directory (`data_dir/media`).
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// `media_cache_max_bytes` (0 = unlimited).
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// Where clients fetch a file: `{public_base_url}/v1/files/{kind}/{name}`, or the path.
    pub fn url(&self, kind: MediaKind, name: &str) -> String {
        format!("{}/v1/files/{}/{name}", self.inner.base_url, kind.as_str())
    }

    /// Stores `bytes` of `mime` (idempotent for the same content) and trims the cache to its
    /// cap. Fails with `InvalidInput` for an empty body or a mime type that is not cached.
    pub async fn store(&self, kind: MediaKind, bytes: Bytes, mime: &str) -> io::Result<MediaRef> {
        let ext = name::extension(kind, mime).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{mime:?} is not a cached {} type", kind.as_str()),
            )
        })?;
        if bytes.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty media file"));
        }
        let inner = self.inner.clone();
        let file_name = tokio::task::spawn_blocking(move || inner.write(kind, &bytes, ext))
            .await
            .map_err(join_error)??;
        let mime = name::check_name(kind, &file_name).map(|f| f.mime).unwrap_or("application/octet-stream");
        Ok(MediaRef {
            kind,
            url: self.url(kind, &file_name).into(),
            name: file_name.into(),
            mime: mime.into(),
        })
    }

    /// The file to serve for a checked name, marking it used; `None` when it is not cached.
    pub fn find(&self, file: &FileName<'_>) -> Option<Found> {
        let mut index = self.inner.lock();
        index.tick += 1;
        let tick = index.tick;
        let entry = index.files.get_mut(&(file.kind, file.name.to_string()))?;
        entry.used = tick;
        Some(Found { path: self.inner.path(file.kind, file.name), size: entry.size })
    }

    /// Count and bytes per type and in all.
    pub fn summary(&self) -> Summary {
        let index = self.inner.lock();
        let mut summary = Summary::default();
        for ((kind, _), entry) in &index.files {
            let totals = match kind {
                MediaKind::Image => &mut summary.image,
                MediaKind::Video => &mut summary.video,
            };
            totals.count += 1;
            totals.bytes += entry.size;
            summary.total.count += 1;
            summary.total.bytes += entry.size;
        }
        summary
    }

    /// Page `page` (from 1) of `page_size` files, newest first, of one type or both.
    pub fn list(&self, kind: Option<MediaKind>, page: u64, page_size: u64) -> Page {
        let mut items: Vec<(MediaKind, String, Entry)> = {
            let index = self.inner.lock();
            index
                .files
                .iter()
                .filter(|((k, _), _)| kind.is_none_or(|want| want == *k))
                .map(|((k, n), e)| (*k, n.clone(), *e))
                .collect()
        };
        items.sort_by(|a, b| b.2.written.cmp(&a.2.written).then_with(|| b.2.seq.cmp(&a.2.seq)));
        let total = items.len() as u64;
        let skip = page.saturating_sub(1).saturating_mul(page_size);
        let items = items
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(page_size).unwrap_or(usize::MAX))
            .map(|(kind, name, entry)| Item {
                kind,
                url: self.url(kind, &name),
                name,
                size: entry.size,
                updated_at: entry.written,
            })
            .collect();
        Page { items, total }
    }

    /// Removes every file, or every file of one type.
    pub async fn clear(&self, kind: Option<MediaKind>) -> io::Result<Removed> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut index = inner.lock();
            let victims: Vec<(MediaKind, String)> =
                index.files.keys().filter(|(k, _)| kind.is_none_or(|want| want == *k)).cloned().collect();
            let mut removed = Removed::default();
            for key in victims {
                if let Some(size) = inner.remove(&mut index, &key)? {
                    removed.count += 1;
                    removed.bytes += size;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(join_error)?
    }

    /// Removes one file; `false` when it was not cached.
    pub async fn delete(&self, file: &FileName<'_>) -> io::Result<bool> {
        let inner = self.inner.clone();
        let key = (file.kind, file.name.to_string());
        tokio::task::spawn_blocking(move || {
            let mut index = inner.lock();
            Ok(inner.remove(&mut index, &key)?.is_some())
        })
        .await
        .map_err(join_error)?
    }
}

impl MediaSink for MediaCache {
    fn put(&self, kind: MediaKind, bytes: Bytes, mime: &str) -> BoxFuture<'static, io::Result<MediaRef>> {
        let cache = self.clone();
        let mime = mime.to_string();
        Box::pin(async move { cache.store(kind, bytes, &mime).await })
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Index> {
        // The index stays consistent between statements; a panic elsewhere cannot break it.
        self.index.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn path(&self, kind: MediaKind, file_name: &str) -> PathBuf {
        self.dir.join(kind.as_str()).join(file_name)
    }

    /// Hashes and writes one file (blocking); returns its name.
    fn write(&self, kind: MediaKind, bytes: &[u8], ext: &str) -> io::Result<String> {
        let file_name = format!("{}.{ext}", hex::encode(Sha256::digest(bytes)));
        let key = (kind, file_name.clone());
        let path = self.path(kind, &file_name);
        {
            let mut index = self.lock();
            index.tick += 1;
            let tick = index.tick;
            if let Some(entry) = index.files.get_mut(&key)
                && path.is_file()
            {
                entry.used = tick;
                return Ok(file_name);
            }
        }
        let dir = self.dir.join(kind.as_str());
        std::fs::create_dir_all(&dir)?;
        let temp = dir.join(format!(".{file_name}.tmp-{:016x}", rand::random::<u64>()));
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        let mut index = self.lock();
        if let Err(e) = std::fs::rename(&temp, &path) {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        index.tick += 1;
        let (size, written, tick) = (bytes.len() as u64, crate::time::now_ms(), index.tick);
        let entry = Entry { size, written, seq: tick, used: tick };
        if let Some(old) = index.files.insert(key.clone(), entry) {
            index.bytes -= old.size;
        }
        index.bytes += entry.size;
        self.evict(&mut index, Some(&key));
        Ok(file_name)
    }

    /// Removes the least recently used files until the cache fits its cap, never `keep`.
    fn evict(&self, index: &mut Index, keep: Option<&(MediaKind, String)>) {
        if self.max_bytes == 0 {
            return;
        }
        while index.bytes > self.max_bytes {
            let victim = index
                .files
                .iter()
                .filter(|(key, _)| Some(*key) != keep)
                .min_by_key(|(_, entry)| entry.used)
                .map(|(key, _)| key.clone());
            let Some(victim) = victim else { break };
            match self.remove(index, &victim) {
                Ok(_) => tracing::debug!(kind = victim.0.as_str(), name = %victim.1, "media cache: evicted"),
                Err(e) => {
                    // Forget it anyway: the index must not keep claiming space it cannot free.
                    tracing::warn!(name = %victim.1, error = %e, "media cache: cannot remove an evicted file");
                    if let Some(entry) = index.files.remove(&victim) {
                        index.bytes -= entry.size;
                    }
                }
            }
        }
    }

    /// Deletes one file and its index entry; its size, or `None` when it was not indexed.
    fn remove(&self, index: &mut Index, key: &(MediaKind, String)) -> io::Result<Option<u64>> {
        if !index.files.contains_key(key) {
            return Ok(None);
        }
        match std::fs::remove_file(self.path(key.0, &key.1)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let entry = index.files.remove(key).map(|e| e.size);
        if let Some(size) = entry {
            index.bytes -= size;
        }
        Ok(entry)
    }
}

fn unix_ms(time: SystemTime) -> i64 {
    i64::try_from(time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis()).unwrap_or(i64::MAX)
}

fn join_error(e: tokio::task::JoinError) -> io::Error {
    io::Error::other(format!("media cache task failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Dir {
            let path = std::env::temp_dir().join(format!("o2a-media-unit-{:016x}", rand::random::<u64>()));
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn cache(dir: &Dir, max_bytes: u64, base: Option<&str>) -> MediaCache {
        MediaCache::open(MediaOptions {
            dir: dir.0.clone(),
            public_base_url: base.map(str::to_string),
            max_bytes,
        })
        .await
        .unwrap()
    }

    fn file(kind: MediaKind, name: &str) -> FileName<'_> {
        name::check_name(kind, name).unwrap()
    }

    #[tokio::test]
    async fn files_are_named_by_content_and_written_once() {
        let dir = Dir::new();
        let c = cache(&dir, 0, Some("https://gw.example.com/")).await;
        let r = c.store(MediaKind::Image, Bytes::from_static(b"png bytes"), "image/png").await.unwrap();
        let hash = hex::encode(Sha256::digest(b"png bytes"));
        assert_eq!(r.name, format!("{hash}.png").as_str());
        assert_eq!(r.url, format!("https://gw.example.com/v1/files/image/{hash}.png").as_str());
        assert_eq!(r.mime, "image/png");
        let again = c.store(MediaKind::Image, Bytes::from_static(b"png bytes"), "image/png").await.unwrap();
        assert_eq!(again, r);
        assert_eq!(std::fs::read(dir.0.join("image").join(r.name.as_str())).unwrap(), b"png bytes");
        assert_eq!(c.summary().image, Totals { count: 1, bytes: 9 });
        let names: Vec<_> = std::fs::read_dir(dir.0.join("image")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");

        let no_base = cache(&dir, 0, None).await;
        assert_eq!(no_base.url(MediaKind::Video, "ab.mp4"), "/v1/files/video/ab.mp4");
        assert_eq!(no_base.summary().total, Totals { count: 1, bytes: 9 }, "indexed at start");
    }

    #[tokio::test]
    async fn other_types_and_empty_files_are_refused() {
        let dir = Dir::new();
        let c = cache(&dir, 0, None).await;
        for (kind, mime) in [
            (MediaKind::Image, "image/svg+xml"),
            (MediaKind::Image, "text/html"),
            (MediaKind::Image, "video/mp4"),
            (MediaKind::Video, "application/octet-stream"),
        ] {
            let e = c.store(kind, Bytes::from_static(b"x"), mime).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{mime}");
        }
        let e = c.store(MediaKind::Video, Bytes::new(), "video/mp4").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(c.summary().total.count, 0);
    }

    #[tokio::test]
    async fn the_least_recently_used_files_go_first_never_the_new_one() {
        let dir = Dir::new();
        let c = cache(&dir, 25, None).await;
        let a = c.store(MediaKind::Image, Bytes::from(vec![b'a'; 10]), "image/png").await.unwrap();
        let b = c.store(MediaKind::Image, Bytes::from(vec![b'b'; 10]), "image/png").await.unwrap();
        // Serving `a` makes `b` the oldest.
        assert!(c.find(&file(MediaKind::Image, &a.name.to_string())).is_some());
        let v = c.store(MediaKind::Video, Bytes::from(vec![b'c'; 10]), "video/mp4").await.unwrap();
        assert!(c.find(&file(MediaKind::Image, &b.name.to_string())).is_none());
        assert!(!dir.0.join("image").join(b.name.as_str()).exists());
        assert!(c.find(&file(MediaKind::Image, &a.name.to_string())).is_some());
        assert_eq!(c.summary().total, Totals { count: 2, bytes: 20 });
        // A file bigger than the cap is kept alone.
        let big = c.store(MediaKind::Video, Bytes::from(vec![b'd'; 40]), "video/mp4").await.unwrap();
        assert_eq!(c.summary().total, Totals { count: 1, bytes: 40 });
        assert!(c.find(&file(MediaKind::Video, &big.name.to_string())).is_some());
        assert!(c.find(&file(MediaKind::Video, &v.name.to_string())).is_none());
    }

    #[tokio::test]
    async fn list_clear_and_delete() {
        let dir = Dir::new();
        let c = cache(&dir, 0, None).await;
        let mut names = Vec::new();
        for i in 0..5u8 {
            let kind = if i % 2 == 0 { MediaKind::Image } else { MediaKind::Video };
            let mime = if kind == MediaKind::Image { "image/jpeg" } else { "video/webm" };
            names.push(c.store(kind, Bytes::from(vec![i; 3]), mime).await.unwrap().name.to_string());
        }
        let page = c.list(None, 1, 2);
        assert_eq!(page.total, 5);
        assert_eq!(
            page.items.iter().map(|i| i.name.clone()).collect::<Vec<_>>(),
            [names[4].clone(), names[3].clone()]
        );
        assert_eq!(c.list(None, 3, 2).items.len(), 1);
        assert_eq!(c.list(None, 4, 2).items.len(), 0);
        let images = c.list(Some(MediaKind::Image), 1, 50);
        assert_eq!(images.total, 3);
        assert!(images.items.iter().all(|i| i.kind == MediaKind::Image && i.size == 3));

        assert!(c.delete(&file(MediaKind::Video, &names[1])).await.unwrap());
        assert!(!c.delete(&file(MediaKind::Video, &names[1])).await.unwrap());
        assert_eq!(c.clear(Some(MediaKind::Video)).await.unwrap(), Removed { count: 1, bytes: 3 });
        assert_eq!(c.clear(None).await.unwrap(), Removed { count: 3, bytes: 9 });
        assert_eq!(c.summary(), Summary::default());
    }

    #[tokio::test]
    async fn leftovers_and_foreign_files_are_not_indexed() {
        let dir = Dir::new();
        std::fs::create_dir_all(dir.0.join("image")).unwrap();
        std::fs::write(dir.0.join("image").join(".0123abcd.png.tmp-00"), b"half").unwrap();
        std::fs::write(dir.0.join("image").join("notes.txt"), b"x").unwrap();
        std::fs::write(dir.0.join("image").join("0123abcd.png"), b"png").unwrap();
        let c = cache(&dir, 0, None).await;
        assert_eq!(c.summary().total, Totals { count: 1, bytes: 3 });
        assert!(!dir.0.join("image").join(".0123abcd.png.tmp-00").exists());
    }
}
