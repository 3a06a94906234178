//! Avatars as Nextcloud serves them at `/index.php/avatar/{uid}/{size}`: the
//! generated one (up to two initials in a colour derived from the display
//! name, `lib/private/Avatar/Avatar.php`), and uploaded PNG or JPEG images,
//! checked and normalised once when they are stored and scaled when served.
//!
//! Everything here is synchronous and CPU-bound: the HTTP front runs it on the
//! blocking pool, a few at a time, and keeps what it drew in an [`AvatarCache`].
//!
//! Uploaded images are hostile input. Before anything is decoded: at most
//! [`MAX_UPLOAD_BYTES`], the magic bytes of PNG or JPEG (no other decoder is
//! built in), and at most [`MAX_UPLOAD_SIDE`] pixels either way, read from the
//! header; the decoder itself runs under the same limits and an allocation cap.
//! What is stored is never the uploaded file but a re-encoding of its pixels
//! (metadata and trailing bytes dropped), cropped square and at most
//! [`STORED_SIDE`] wide, so the daemon decodes at most that much per request.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use axum::body::Bytes;
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;

/// Uploads larger than this are refused unread.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;
/// Uploads wider or taller than this are refused before they are decoded.
pub const MAX_UPLOAD_SIDE: u32 = 4096;
/// Stored avatars are at most this wide (the largest size served).
pub const STORED_SIDE: u32 = 512;
/// What the decoder may allocate for one image: a 4096×4096 RGBA image and
/// some room for the decoder's own buffers.
const MAX_DECODE_ALLOC: u64 = 96 * 1024 * 1024;

/// The font generated avatars are drawn with unless [`FONT_ENV`] names
/// another (Debian's fonts-dejavu-core; Nextcloud draws with Noto Sans).
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// The environment variable of the daemon that names the font file.
pub const FONT_ENV: &str = "AUTHBRIDGE_AVATAR_FONT";
/// Font files larger than this are not read.
const MAX_FONT_BYTES: u64 = 32 * 1024 * 1024;

/// The two sizes Nextcloud serves.
pub const SMALL: u32 = 64;
pub const LARGE: u32 = 512;

/// The size served for the asked one, as Nextcloud: at most 64 gives 64,
/// anything larger 512. The path segment is read as PHP casts it to an int:
/// an optional sign and the leading digits; anything else counts as 0.
pub fn served_size(asked: &str) -> u32 {
    let asked = asked.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let unsigned = asked.strip_prefix(['-', '+']).unwrap_or(asked);
    let negative = asked.starts_with('-');
    let digits: &str = unsigned
        .find(|c: char| !c.is_ascii_digit())
        .map_or(unsigned, |end| &unsigned[..end]);
    let significant = digits.trim_start_matches('0');
    // More than three significant digits is above 64 whatever they are.
    let large = match significant.len() {
        0 => false,
        1..=3 => significant.parse::<u32>().is_ok_and(|n| n > SMALL),
        _ => true,
    };
    if large && !negative { LARGE } else { SMALL }
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    #[cfg(test)]
    fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// `Color::alphaBlending`: this colour at `opacity` over `under`, each
    /// channel truncated as PHP's `(int)` does.
    fn over(self, under: Rgb, opacity: f64) -> Rgb {
        let mix = |top: u8, bottom: u8| {
            ((1.0 - opacity) * f64::from(bottom) + opacity * f64::from(top)) as u8
        };
        Rgb(
            mix(self.0, under.0),
            mix(self.1, under.1),
            mix(self.2, under.2),
        )
    }
}

const RED: Rgb = Rgb(182, 70, 157);
const YELLOW: Rgb = Rgb(221, 203, 85);
const BLUE: Rgb = Rgb(0, 130, 201);
const STEPS: usize = 6;
pub const PALETTE_LEN: usize = 3 * STEPS;

/// `Color::mixPalette`: `steps` colours from `from` towards `to` (not
/// reaching it), each channel `from + (to - from) / steps * i`, truncated.
fn mix_palette(from: Rgb, to: Rgb) -> [Rgb; STEPS] {
    let channel = |a: u8, b: u8, i: usize| {
        let step = (f64::from(b) - f64::from(a)) / STEPS as f64;
        (f64::from(a) + step * i as f64) as u8
    };
    std::array::from_fn(|i| {
        Rgb(
            channel(from.0, to.0, i),
            channel(from.1, to.1, i),
            channel(from.2, to.2, i),
        )
    })
}

/// Nextcloud's 18 avatar colours: red to yellow, yellow to blue, blue to red.
pub fn palette() -> [Rgb; PALETTE_LEN] {
    let parts = [
        mix_palette(RED, YELLOW),
        mix_palette(YELLOW, BLUE),
        mix_palette(BLUE, RED),
    ];
    std::array::from_fn(|i| parts[i / STEPS][i % STEPS])
}

/// `^([0-9a-f]{4}-?){8}$` (PHP's `$` also matches before one final newline).
fn looks_like_hash(text: &str) -> bool {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut bytes = text.as_bytes();
    for _ in 0..8 {
        let Some((group, rest)) = bytes.split_first_chunk::<4>() else {
            return false;
        };
        if !group
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        {
            return false;
        }
        bytes = rest.strip_prefix(b"-").unwrap_or(rest);
    }
    bytes.is_empty()
}

/// The palette index of a display name (`Avatar::avatarBackgroundColor`): its
/// ASCII-lowercased form, hashed with MD5 unless it already looks like a hash
/// or UUID; the sum of its hex digits, modulo 18.
pub fn colour_index(display_name: &str) -> usize {
    let lower = display_name.to_ascii_lowercase();
    let hash = match looks_like_hash(&lower) {
        true => lower,
        false => format!("{:x}", Md5::digest(lower.as_bytes())),
    };
    let sum: usize = hash
        .chars()
        .filter_map(|c| match c {
            '0'..='9' | 'a'..='f' => c.to_digit(16),
            _ => None,
        })
        .map(|d| d as usize)
        .sum();
    sum % PALETTE_LEN
}

/// The text of a generated avatar (`Avatar::getAvatarText`): the upper-cased
/// first character of the name and of what follows its first space, so up to
/// two; `?` for a name PHP calls empty ("" and "0").
pub fn initials(display_name: &str) -> String {
    if display_name.is_empty() || display_name == "0" {
        return "?".into();
    }
    let first = |part: &str| -> String {
        part.chars()
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default()
    };
    match display_name.split_once(' ') {
        Some((one, two)) => first(one) + &first(two),
        None => first(display_name),
    }
}

/// Text and background colours of a generated avatar.
pub fn colours(display_name: &str, dark: bool) -> (Rgb, Rgb) {
    let text = palette()[colour_index(display_name)];
    let under = match dark {
        true => Rgb(0, 0, 0),
        false => Rgb(255, 255, 255),
    };
    (text, text.over(under, 0.1))
}

/// Reads a TrueType or OpenType font, at most [`MAX_FONT_BYTES`].
pub fn load_font(path: &Path) -> Result<FontVec, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_FONT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FONT_BYTES {
        return Err(format!("larger than {MAX_FONT_BYTES} bytes"));
    }
    FontVec::try_from_vec(bytes).map_err(|_| "not a TrueType or OpenType font".to_owned())
}

#[derive(Debug, thiserror::Error)]
#[error("the avatar could not be encoded: {0}")]
pub struct EncodeError(String);

/// Draws a generated avatar as a `size`×`size` PNG: the background, and the
/// initials centred on it as Nextcloud's SVG template places them (font size
/// 280/500 of the side, baseline at 350/500). Without a font, the background.
pub fn draw(
    display_name: &str,
    size: u32,
    dark: bool,
    font: Option<&FontVec>,
) -> Result<Vec<u8>, EncodeError> {
    let (text, background) = colours(display_name, dark);
    let side = size as usize;
    // How much of each pixel the text covers, 0 to 1.
    let mut coverage = vec![0f32; side * side];
    if let Some(font) = font {
        cover_text(&initials(display_name), size, font, &mut coverage);
    }
    let mut pixels = Vec::with_capacity(side * side * 3);
    for c in coverage {
        let c = c.clamp(0.0, 1.0);
        let blend = |fg: u8, bg: u8| (f32::from(fg) * c + f32::from(bg) * (1.0 - c)).round() as u8;
        pixels.extend([
            blend(text.0, background.0),
            blend(text.1, background.1),
            blend(text.2, background.2),
        ]);
    }
    encode_png(size, &pixels)
}

/// Adds the coverage of `text`, laid out on one line, centred horizontally
/// by its advance (SVG's `text-anchor: middle`).
fn cover_text(text: &str, size: u32, font: &FontVec, coverage: &mut [f32]) {
    let side = size as f32;
    let em = side * 280.0 / 500.0;
    let units = font.units_per_em().unwrap_or(1000.0);
    let scaled = font.as_scaled(PxScale::from(em * font.height_unscaled() / units));
    let baseline = side * 350.0 / 500.0;
    let mut glyphs = Vec::new();
    let mut x = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            x += scaled.kern(previous, id);
        }
        glyphs.push((id, x));
        x += scaled.h_advance(id);
        previous = Some(id);
    }
    let left = (side - x) / 2.0;
    for (id, x) in glyphs {
        let glyph = id.with_scale_and_position(scaled.scale(), point(left + x, baseline));
        let Some(outline) = font.outline_glyph(glyph) else {
            continue; // a space, or a glyph without an outline
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, c| {
            let px = bounds.min.x as i64 + i64::from(gx);
            let py = bounds.min.y as i64 + i64::from(gy);
            if (0..i64::from(size)).contains(&px) && (0..i64::from(size)).contains(&py) {
                coverage[py as usize * size as usize + px as usize] += c;
            }
        });
    }
}

fn encode_png(size: u32, rgb: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let failed = |e: png::EncodingError| EncodeError(e.to_string());
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(rgb).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

/// The two formats taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
}

impl ImageKind {
    /// By the magic bytes, never by a name or a claimed type.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(ImageKind::Jpeg)
        } else {
            None
        }
    }

    /// By the stored media type.
    pub fn of_mime(mime: &str) -> Option<ImageKind> {
        match mime {
            "image/png" => Some(ImageKind::Png),
            "image/jpeg" => Some(ImageKind::Jpeg),
            _ => None,
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
        }
    }

    /// As Nextcloud names the file (`avatar.64.jpg`).
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpg",
        }
    }

    fn format(self) -> image::ImageFormat {
        match self {
            ImageKind::Png => image::ImageFormat::Png,
            ImageKind::Jpeg => image::ImageFormat::Jpeg,
        }
    }
}

/// Why an image was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("the image is larger than {} MiB", MAX_UPLOAD_BYTES / (1024 * 1024))]
    TooLarge,
    #[error("not a PNG or JPEG image (only those two are taken)")]
    NotAnImage,
    #[error(
        "the image is {width}×{height} pixels; at most {MAX_UPLOAD_SIDE}×{MAX_UPLOAD_SIDE} are taken"
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("the image has no pixels")]
    Empty,
    #[error("the {0} image cannot be decoded: {1}")]
    Corrupt(&'static str, String),
    #[error("the image could not be encoded: {0}")]
    Encode(String),
}

/// Decodes a PNG or JPEG under the limits: size, dimensions from the header
/// before any pixel is decoded, and the decoder's allocations.
fn decode(bytes: &[u8], kind: ImageKind) -> Result<image::DynamicImage, ImageError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ImageError::TooLarge);
    }
    let name = match kind {
        ImageKind::Png => "PNG",
        ImageKind::Jpeg => "JPEG",
    };
    let corrupt = |e: image::ImageError| ImageError::Corrupt(name, e.to_string());
    let reader = || {
        let mut reader = image::ImageReader::with_format(Cursor::new(bytes), kind.format());
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_UPLOAD_SIDE);
        limits.max_image_height = Some(MAX_UPLOAD_SIDE);
        limits.max_alloc = Some(MAX_DECODE_ALLOC);
        reader.limits(limits);
        reader
    };
    // Dimensions first, from the header alone, to name them when refusing.
    let (width, height) = match kind {
        // IHDR must be the first chunk: read directly, whatever follows.
        ImageKind::Png => match bytes.get(8..24) {
            Some(ihdr) if ihdr[..8] == *b"\0\0\0\x0dIHDR" => (
                u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]),
                u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]),
            ),
            _ => return Err(ImageError::Corrupt(name, "no IHDR chunk first".into())),
        },
        ImageKind::Jpeg => {
            let mut header = image::ImageReader::with_format(Cursor::new(bytes), kind.format());
            header.no_limits();
            header.into_dimensions().map_err(corrupt)?
        }
    };
    if width > MAX_UPLOAD_SIDE || height > MAX_UPLOAD_SIDE {
        return Err(ImageError::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(ImageError::Empty);
    }
    reader().decode().map_err(corrupt)
}

/// The square in the middle of the image, scaled to `side` (up or down).
fn square(image: &image::DynamicImage, side: u32) -> image::DynamicImage {
    let (w, h) = (image.width(), image.height());
    let edge = w.min(h);
    let cropped = image.crop_imm((w - edge) / 2, (h - edge) / 2, edge, edge);
    if edge == side {
        cropped
    } else {
        cropped.resize_exact(side, side, image::imageops::FilterType::Lanczos3)
    }
}

fn encode(image: &image::DynamicImage, kind: ImageKind) -> Result<Vec<u8>, ImageError> {
    let failed = |e: image::ImageError| ImageError::Encode(e.to_string());
    let mut out = Cursor::new(Vec::new());
    match kind {
        // 8 bits a channel, with alpha only when the image has it.
        ImageKind::Png => match image.color().has_alpha() {
            true => image::DynamicImage::ImageRgba8(image.to_rgba8()),
            false => image::DynamicImage::ImageRgb8(image.to_rgb8()),
        }
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(failed)?,
        ImageKind::Jpeg => {
            let rgb = image.to_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                .encode_image(&rgb)
                .map_err(failed)?;
        }
    }
    Ok(out.into_inner())
}

/// An upload made fit to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedUpload {
    /// Re-encoded pixels, in the upload's own format.
    pub image: Vec<u8>,
    pub kind: ImageKind,
    /// The side of the stored square.
    pub side: u32,
    /// The upload's own dimensions.
    pub original: (u32, u32),
}

/// Checks an uploaded image and makes what is stored of it: the square in its
/// middle, at most [`STORED_SIDE`] wide, re-encoded in its own format.
pub fn prepare_upload(bytes: &[u8]) -> Result<PreparedUpload, ImageError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ImageError::TooLarge);
    }
    let kind = ImageKind::sniff(bytes).ok_or(ImageError::NotAnImage)?;
    let decoded = decode(bytes, kind)?;
    let original = (decoded.width(), decoded.height());
    let side = original.0.min(original.1).min(STORED_SIDE);
    let image = encode(&square(&decoded, side), kind)?;
    Ok(PreparedUpload {
        image,
        kind,
        side,
        original,
    })
}

/// A stored avatar at `size`×`size`, in its own format. The stored bytes
/// pass the same checks as an upload (whoever wrote them).
pub fn scale_stored(bytes: &[u8], kind: ImageKind, size: u32) -> Result<Vec<u8>, ImageError> {
    if ImageKind::sniff(bytes) != Some(kind) {
        return Err(ImageError::NotAnImage);
    }
    let decoded = decode(bytes, kind)?;
    encode(&square(&decoded, size), kind)
}

/// What the cache holds an image under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// Drawn from the display name: a renamed user's key changes with it.
    Generated { name: String, size: u32, dark: bool },
    /// A stored image by a digest of its bytes: a new upload's key changes.
    Uploaded { digest: [u8; 32], size: u32 },
}

impl CacheKey {
    fn cost(&self) -> usize {
        match self {
            CacheKey::Generated { name, .. } => name.len() + 64,
            CacheKey::Uploaded { .. } => 64,
        }
    }
}

/// Rendered avatars, bounded in entries and bytes. Two generations: lookups
/// hit the young one, or move an entry from the old one into it; when the
/// young one is full it becomes the old one and the old one is dropped. So
/// what was used since the last turn stays, and at most `max_entries` and
/// about `max_bytes` are held. `None` remembers a stored image that could
/// not be decoded, so it is not tried on every request.
pub struct AvatarCache {
    young: HashMap<CacheKey, Option<Bytes>>,
    old: HashMap<CacheKey, Option<Bytes>>,
    young_bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl AvatarCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> AvatarCache {
        AvatarCache {
            young: HashMap::new(),
            old: HashMap::new(),
            young_bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    pub fn get(&mut self, key: &CacheKey) -> Option<Option<Bytes>> {
        if let Some(found) = self.young.get(key) {
            return Some(found.clone());
        }
        let found = self.old.remove(key)?;
        self.insert(key.clone(), found.clone());
        Some(found)
    }

    pub fn insert(&mut self, key: CacheKey, value: Option<Bytes>) {
        let cost = key.cost() + value.as_ref().map_or(0, Bytes::len);
        let (entries, bytes) = (self.max_entries / 2, self.max_bytes / 2);
        if cost > bytes || entries == 0 {
            return;
        }
        if let Some(replaced) = self.young.remove(&key) {
            self.young_bytes -= key.cost() + replaced.as_ref().map_or(0, Bytes::len);
        }
        if self.young.len() >= entries || self.young_bytes + cost > bytes {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.old.remove(&key);
        self.young_bytes += cost;
        self.young.insert(key, value);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dejavu() -> Option<FontVec> {
        load_font(Path::new(DEFAULT_FONT)).ok()
    }

    /// Width, height and colour type from a PNG's IHDR, and its pixels.
    fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        pixels.truncate(info.buffer_size());
        (info.width, info.height, pixels)
    }

    #[test]
    fn the_palette_is_nextclouds() {
        // From the table computed from Nextcloud's Color::mixPalette and
        // alphaBlending (research notes, section 10).
        let table = [
            (0, "#b6469d", "#f7ecf5", "#12070f"),
            (5, "#d6b461", "#faf7ef", "#151209"),
            (6, "#ddcb55", "#fbf9ee", "#161408"),
            (7, "#b8be68", "#f7f8ef", "#12130a"),
            (12, "#0082c9", "#e5f2f9", "#000d14"),
            (13, "#1e78c1", "#e8f1f8", "#030c13"),
            (16, "#795aab", "#f1eef6", "#0c0911"),
            (17, "#9750a4", "#f4edf5", "#0f0810"),
        ];
        let palette = palette();
        for (i, fg, light, dark) in table {
            let c = palette[i];
            assert_eq!(c.hex(), fg, "colour {i}");
            assert_eq!(c.over(Rgb(255, 255, 255), 0.1).hex(), light, "light {i}");
            assert_eq!(c.over(Rgb(0, 0, 0), 0.1).hex(), dark, "dark {i}");
        }
    }

    #[test]
    fn names_pick_colours_as_nextcloud() {
        assert_eq!(colour_index("admin"), 4);
        assert_eq!(colour_index("alice"), 16);
        assert_eq!(colour_index("Frank K."), 7);
        // Lower-cased before hashing (ASCII only, as PHP 8's strtolower).
        assert_eq!(colour_index("ADMIN"), 4);
        assert_eq!(
            colours("admin", false),
            (palette()[4], Rgb(0xfa, 0xf5, 0xf0))
        );
        assert_eq!(colours("admin", true).1, Rgb(0x14, 0x0f, 0x0a));
        // Something that looks like an md5 or UUID is summed as it is.
        let uuid = "0000-0000-0000-0000-0000-0000-0000-0001";
        assert!(looks_like_hash(uuid));
        assert_eq!(colour_index(uuid), 1);
        assert_eq!(colour_index("00000000000000000000000000000011"), 2);
        assert!(!looks_like_hash("0000-0000-0000-0000-0000-0000-0000-000"));
        assert!(!looks_like_hash("000g0000000000000000000000000000"));
    }

    #[test]
    fn initials_are_the_first_letters_of_two_words() {
        assert_eq!(initials("Frank K."), "FK");
        assert_eq!(initials("layla"), "L");
        assert_eq!(initials("ada lovelace byron"), "AL");
        assert_eq!(initials("élodie durand"), "ÉD");
        assert_eq!(initials(""), "?");
        assert_eq!(initials("0"), "?");
        // As PHP's explode(' ', $name, 2): a leading space leaves an empty word.
        assert_eq!(initials(" bob"), "B");
        assert_eq!(initials("straße"), "S");
        assert_eq!(initials("ßa b"), "SSB");
    }

    #[test]
    fn sizes_round_as_nextcloud() {
        for (asked, served) in [
            ("64", 64),
            ("1", 64),
            ("0", 64),
            ("32", 64),
            ("65", 512),
            ("512", 512),
            ("145", 512),
            ("2048", 512),
            ("99999999999999999999", 512),
            ("000065", 512),
            ("0000064", 64),
            ("-512", 64),
            ("+100", 512),
            ("abc", 64),
            ("100abc", 512),
            ("", 64),
            (" 100", 512),
        ] {
            assert_eq!(served_size(asked), served, "{asked:?}");
        }
    }

    #[test]
    fn generated_avatars_are_pngs_of_the_size_with_the_initials() {
        let font = dejavu().expect("fonts-dejavu-core (ci/install-deps.sh)");
        for size in [SMALL, LARGE] {
            let (w, h, pixels) = decode_png(&draw("Frank K.", size, false, Some(&font)).unwrap());
            assert_eq!((w, h), (size, size));
            let (text, background) = colours("Frank K.", false);
            let pixel = |x: u32, y: u32| {
                let i = ((y * size + x) * 3) as usize;
                Rgb(pixels[i], pixels[i + 1], pixels[i + 2])
            };
            assert_eq!(pixel(0, 0), background);
            assert_eq!(pixel(size - 1, size - 1), background);
            let inked = (0..size * size)
                .filter(|i| pixel(i % size, i / size) == text)
                .count();
            assert!(
                inked > (size * size / 50) as usize,
                "the initials are drawn at {size}"
            );
        }
        let light = draw("Frank K.", SMALL, false, Some(&font)).unwrap();
        let dark = draw("Frank K.", SMALL, true, Some(&font)).unwrap();
        assert_ne!(light, dark);
        let (_, _, pixels) = decode_png(&dark);
        assert_eq!(
            Rgb(pixels[0], pixels[1], pixels[2]),
            colours("Frank K.", true).1
        );
    }

    #[test]
    fn without_a_font_only_the_background_is_drawn() {
        let (w, h, pixels) = decode_png(&draw("alice", SMALL, false, None).unwrap());
        assert_eq!((w, h), (64, 64));
        let background = colours("alice", false).1;
        assert!(
            pixels
                .chunks(3)
                .all(|p| p == [background.0, background.1, background.2])
        );
        assert!(load_font(Path::new("/nonexistent/font.ttf")).is_err());
        let not_a_font = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(not_a_font.path(), b"not a font").unwrap();
        assert!(load_font(not_a_font.path()).is_err());
    }

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, _| match x < width / 2 {
            true => image::Rgb([255, 0, 0]),
            false => image::Rgb([0, 0, 255]),
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A PNG whose header claims `width`×`height`, with a valid CRC and no pixels.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        let crc = crc32(&ihdr);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(13u32.to_be_bytes());
        out.extend(ihdr);
        out.extend(crc.to_be_bytes());
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn uploads_are_checked_cropped_and_bounded() {
        let prepared = prepare_upload(&png_of(300, 200)).unwrap();
        assert_eq!(prepared.kind, ImageKind::Png);
        assert_eq!((prepared.side, prepared.original), (200, (300, 200)));
        let served = scale_stored(&prepared.image, ImageKind::Png, 64).unwrap();
        let decoded = image::load_from_memory(&served).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 64));
        // Larger than stored: kept at 512.
        let big = prepare_upload(&png_of(1200, 1000)).unwrap();
        assert_eq!(big.side, STORED_SIDE);

        let mut jpeg = Cursor::new(Vec::new());
        image::RgbImage::from_pixel(100, 100, image::Rgb([10, 200, 30]))
            .write_to(&mut jpeg, image::ImageFormat::Jpeg)
            .unwrap();
        let prepared = prepare_upload(jpeg.get_ref()).unwrap();
        assert_eq!(prepared.kind, ImageKind::Jpeg);
        let served = scale_stored(&prepared.image, ImageKind::Jpeg, 512).unwrap();
        assert_eq!(ImageKind::sniff(&served), Some(ImageKind::Jpeg));
        let decoded = image::load_from_memory(&served).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (512, 512));

        // Refused before decoding: dimensions from the header alone.
        assert_eq!(
            prepare_upload(&png_header_only(4097, 16)),
            Err(ImageError::TooManyPixels {
                width: 4097,
                height: 16
            })
        );
        assert_eq!(
            prepare_upload(&png_header_only(100_000, 100_000)),
            Err(ImageError::TooManyPixels {
                width: 100_000,
                height: 100_000
            })
        );
        let mut wide_jpeg = Cursor::new(Vec::new());
        image::RgbImage::new(4100, 8)
            .write_to(&mut wide_jpeg, image::ImageFormat::Jpeg)
            .unwrap();
        assert_eq!(
            prepare_upload(wide_jpeg.get_ref()),
            Err(ImageError::TooManyPixels {
                width: 4100,
                height: 8
            })
        );
        // At the limit the header passes, and the missing pixels fail.
        assert!(matches!(
            prepare_upload(&png_header_only(4096, 4096)),
            Err(ImageError::Corrupt("PNG", _))
        ));
        assert_eq!(
            prepare_upload(&vec![0; MAX_UPLOAD_BYTES + 1]),
            Err(ImageError::TooLarge)
        );
        assert_eq!(prepare_upload(b"GIF89a..."), Err(ImageError::NotAnImage));
        assert_eq!(prepare_upload(b""), Err(ImageError::NotAnImage));
        let mut truncated = png_of(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            prepare_upload(&truncated),
            Err(ImageError::Corrupt("PNG", _))
        ));
        assert!(matches!(
            prepare_upload(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]),
            Err(ImageError::Corrupt("JPEG", _))
        ));
        // A stored image must be what its type says.
        assert_eq!(
            scale_stored(&png_of(8, 8), ImageKind::Jpeg, 64),
            Err(ImageError::NotAnImage)
        );
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_what_is_used() {
        let key = |n: usize| CacheKey::Generated {
            name: format!("user{n}"),
            size: 64,
            dark: false,
        };
        let value = Some(Bytes::from_static(&[0; 100]));
        let mut cache = AvatarCache::new(10, 1 << 20);
        for n in 0..100 {
            cache.insert(key(n), value.clone());
            assert!(cache.len() <= 10);
            // One entry used all along survives every turn.
            if n > 0 {
                assert!(cache.get(&key(0)).is_some(), "after {n}");
            }
        }
        assert!(cache.get(&key(1)).is_none());
        assert!(cache.get(&key(99)).is_some());

        // Bytes bound the cache too; an entry above half of them is not kept.
        let mut cache = AvatarCache::new(1000, 1000);
        cache.insert(key(0), Some(Bytes::from(vec![0; 600])));
        assert!(cache.is_empty());
        for n in 0..50 {
            cache.insert(key(n), Some(Bytes::from(vec![0; 100])));
        }
        let held: usize = (0..50)
            .filter_map(|n| cache.get(&key(n)).flatten())
            .map(|b| b.len())
            .sum();
        assert!(held <= 1000, "{held}");
        // A failure is remembered as such.
        let stored = CacheKey::Uploaded {
            digest: [7; 32],
            size: 512,
        };
        cache.insert(stored.clone(), None);
        assert_eq!(cache.get(&stored), Some(None));
        // Replacing an entry does not count it twice.
        let mut cache = AvatarCache::new(4, 1 << 20);
        for _ in 0..10 {
            cache.insert(key(0), value.clone());
        }
        cache.insert(key(1), value.clone());
        assert!(cache.get(&key(0)).is_some() && cache.get(&key(1)).is_some());
    }
}
