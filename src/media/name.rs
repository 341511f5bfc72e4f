//! File names of the media cache: the one check every caller (the files route, the admin API,
//! the cache itself) uses, and the mime ↔ extension table.
//!
//! A name is `<hex>.<ext>`: 8 to 128 lowercase hex digits (the content hash) and one of the
//! extensions of its type. Nothing else passes: no dots besides the one, no separators, no
//! upper case, no percent escapes. A name that passes is safe to join to a directory.

use crate::ir::MediaKind;

/// The extensions of each type, with their mime types.
const IMAGE: &[(&str, &str)] =
    &[("jpg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp"), ("gif", "image/gif")];
const VIDEO: &[(&str, &str)] = &[("mp4", "video/mp4"), ("webm", "video/webm")];

/// Shortest and longest hash part accepted.
const MIN_HEX: usize = 8;
const MAX_HEX: usize = 128;

/// Why a type or name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("the type must be `image` or `video`")]
    Kind,
    #[error("invalid file name")]
    Name,
}

/// A checked `(type, name)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileName<'a> {
    pub kind: MediaKind,
    pub name: &'a str,
    /// The hash part (the name without its extension): the file's strong ETag.
    pub hash: &'a str,
    pub mime: &'static str,
}

/// `image` or `video`, exactly (lower case).
pub fn parse_kind(kind: &str) -> Result<MediaKind, InvalidName> {
    match kind {
        "image" => Ok(MediaKind::Image),
        "video" => Ok(MediaKind::Video),
        _ => Err(InvalidName::Kind),
    }
}

/// THE name check: `kind` is `image` or `video`, `name` is `<8..128 lowercase hex>.<ext>` with an
/// extension of that type.
pub fn check<'a>(kind: &str, name: &'a str) -> Result<FileName<'a>, InvalidName> {
    let kind = parse_kind(kind)?;
    check_name(kind, name)
}

/// [`check`] for a type already known.
pub fn check_name(kind: MediaKind, name: &str) -> Result<FileName<'_>, InvalidName> {
    let (hash, ext) = name.split_once('.').ok_or(InvalidName::Name)?;
    if !(MIN_HEX..=MAX_HEX).contains(&hash.len())
        || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(InvalidName::Name);
    }
    let mime = table(kind).iter().find(|(e, _)| *e == ext).map(|(_, m)| *m).ok_or(InvalidName::Name)?;
    Ok(FileName { kind, name, hash, mime })
}

/// The extension a cached file of `mime` gets (`image/jpeg` → `jpg`), when files of that type
/// and mime are cached at all: raster images and mp4/webm videos only. Parameters
/// (`; charset=...`) and case are ignored.
pub fn extension(kind: MediaKind, mime: &str) -> Option<&'static str> {
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let essence = if essence == "image/jpg" { "image/jpeg".to_string() } else { essence };
    table(kind).iter().find(|(_, m)| *m == essence).map(|(e, _)| *e)
}

/// The kind and mime type of a cached-file extension (`jpg`, `jpeg`, `mp4`, ...; any case).
pub fn mime_of_extension(ext: &str) -> Option<(MediaKind, &'static str)> {
    let ext = ext.to_ascii_lowercase();
    let ext = if ext == "jpeg" { "jpg" } else { ext.as_str() };
    [MediaKind::Image, MediaKind::Video]
        .into_iter()
        .find_map(|kind| table(kind).iter().find(|(e, _)| *e == ext).map(|(_, m)| (kind, *m)))
}

fn table(kind: MediaKind) -> &'static [(&'static str, &'static str)] {
    match kind {
        MediaKind::Image => IMAGE,
        MediaKind::Video => VIDEO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strict_names_pass() {
        let ok = check("image", "0123abcd.jpg").unwrap();
        assert_eq!((ok.kind, ok.hash, ok.mime), (MediaKind::Image, "0123abcd", "image/jpeg"));
        assert_eq!(check("video", &format!("{}.webm", "f".repeat(128))).unwrap().mime, "video/webm");
        assert_eq!(mime_of_extension("JPEG"), Some((MediaKind::Image, "image/jpeg")));
        assert_eq!(mime_of_extension("mp4"), Some((MediaKind::Video, "video/mp4")));
        assert_eq!(mime_of_extension("exe"), None);
        for (kind, name) in [
            ("image", "0123abc.jpg"), // too short
            ("image", &format!("{}.jpg", "a".repeat(129))),
            ("image", "0123ABCD.jpg"), // upper case
            ("image", "0123abcd"),     // no extension
            ("image", "0123abcd.exe"),
            ("image", "0123abcd.JPG"),
            ("image", "0123abcd.mp4"), // a video extension for an image
            ("video", "0123abcd.png"),
            ("image", "0123abcd.jpg.jpg"),
            ("image", "0123..abcd.jpg"),
            ("image", "a..b.jpg"),
            ("image", "../0123abcd.jpg"),
            ("image", "sub/0123abcd.jpg"),
            ("image", "sub\\0123abcd.jpg"),
            ("image", "%2e%2e%2f0123abcd.jpg"),
            ("image", ".0123abcd.jpg"),
            ("image", ""),
            ("image", " 0123abcd.jpg"),
            ("image", "0123abcd.jpg "),
            ("image", "0123abcd.tmp-1234"),
        ] {
            assert_eq!(check(kind, name), Err(InvalidName::Name), "{kind} {name}");
        }
        assert_eq!(check("Image", "0123abcd.jpg"), Err(InvalidName::Kind));
        assert_eq!(check("file", "0123abcd.jpg"), Err(InvalidName::Kind));
    }

    #[test]
    fn mimes_map_to_extensions_of_their_type() {
        assert_eq!(extension(MediaKind::Image, "image/jpeg"), Some("jpg"));
        assert_eq!(extension(MediaKind::Image, "Image/PNG; charset=binary"), Some("png"));
        assert_eq!(extension(MediaKind::Image, "image/jpg"), Some("jpg"));
        assert_eq!(extension(MediaKind::Image, "image/svg+xml"), None);
        assert_eq!(extension(MediaKind::Image, "text/html"), None);
        assert_eq!(extension(MediaKind::Image, "video/mp4"), None);
        assert_eq!(extension(MediaKind::Video, "video/webm"), Some("webm"));
        assert_eq!(extension(MediaKind::Video, "video/quicktime"), None);
    }
}
