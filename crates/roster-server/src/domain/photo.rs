//! Photos as stored: a JPEG of at most [`MAX_SIDE`] pixels a side and no metadata. Uploads are
//! decoded (within limits, so a small file cannot claim a huge canvas), turned upright, scaled
//! down and re-encoded, which drops EXIF (GPS position, camera, time), XMP, ICC and comments.
//!
//! A JPEG that is already in that form is kept byte for byte, so a client that uploads the
//! photo it downloaded does not change it (no spurious change for every member to sync).

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Longest side of a stored photo, in pixels.
pub const MAX_SIDE: u32 = 512;
/// Largest canvas an upload may declare (per side), and the decoder's memory bound.
const DECODE_MAX_SIDE: u32 = 8192;
const DECODE_MAX_ALLOC: u64 = 128 << 20;
const QUALITY: u8 = 85;

/// The stored form of an uploaded JPEG or PNG: a clean, bounded JPEG.
pub fn clean(bytes: &[u8], format: ImageFormat) -> Result<Vec<u8>, String> {
    let unreadable = |_| "the photo cannot be read as an image".to_string();
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(DECODE_MAX_SIDE);
    limits.max_image_height = Some(DECODE_MAX_SIDE);
    limits.max_alloc = Some(DECODE_MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    if format == ImageFormat::Jpeg && width <= MAX_SIDE && height <= MAX_SIDE && is_bare_jpeg(bytes) {
        // Still decode it: a file that only looks like a JPEG is refused, not stored.
        DynamicImage::from_decoder(decoder).map_err(unreadable)?;
        return Ok(bytes.to_vec());
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut photo = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    photo.apply_orientation(orientation);
    if photo.width() > MAX_SIDE || photo.height() > MAX_SIDE {
        photo = photo.resize(MAX_SIDE, MAX_SIDE, FilterType::Triangle);
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&photo.to_rgb8())
        .map_err(|e| format!("the photo cannot be re-encoded: {e}"))?;
    Ok(out)
}

/// Whether a JPEG carries nothing but the image: a baseline frame, tables, at most a JFIF
/// header, one scan, and nothing after its end.
fn is_bare_jpeg(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xff, 0xd8]) || !bytes.ends_with(&[0xff, 0xd9]) {
        return false;
    }
    let mut at = 2;
    loop {
        let (Some(&0xff), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        let Some(length) = bytes
            .get(at + 2..at + 4)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return false;
        };
        let segment = bytes.get(at + 4..at + 2 + length).unwrap_or_default();
        let allowed = match marker {
            0xe0 => segment.starts_with(b"JFIF\0"), // APP0 JFIF, not a JFXX thumbnail
            0xdb | 0xc4 | 0xdd => true,             // quantisation, Huffman tables, restart interval
            0xc0 | 0xc1 => true,                    // baseline or extended sequential frame
            0xda => return single_scan(bytes.get(at + 2 + length..).unwrap_or_default()),
            _ => false, // APP1 (EXIF, XMP), APP2 (ICC), APP13 (IPTC), comments, progressive…
        };
        if !allowed || length < 2 {
            return false;
        }
        at += 2 + length;
    }
}

/// Whether entropy-coded data runs to the end-of-image marker with no other marker between.
fn single_scan(data: &[u8]) -> bool {
    let end = data.len().saturating_sub(2);
    data[..end]
        .windows(2)
        .all(|pair| pair[0] != 0xff || matches!(pair[1], 0x00 | 0xff | 0xd0..=0xd7))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let picture = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&picture)
            .unwrap();
        out
    }

    /// `jpeg` with an APP1 EXIF segment (holding a GPS marker text) after the start of image.
    fn with_exif(plain: &[u8]) -> Vec<u8> {
        let payload = b"Exif\0\0MM\0*GPSLatitude 52.5200 N GPSLongitude 13.4050 E";
        let length = u16::try_from(payload.len() + 2).unwrap().to_be_bytes();
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xff, 0xe1, length[0], length[1]]);
        out.extend_from_slice(payload);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn large_photos_are_scaled_down_and_metadata_dropped() {
        let upload = with_exif(&jpeg(1200, 900));
        assert!(!is_bare_jpeg(&upload));
        let stored = clean(&upload, ImageFormat::Jpeg).unwrap();
        let decoded = image::load_from_memory_with_format(&stored, ImageFormat::Jpeg).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (512, 384));
        assert!(is_bare_jpeg(&stored));
        assert!(!stored.windows(4).any(|w| w == b"Exif" || w == b"GPSL"));
    }

    #[test]
    fn small_photos_lose_metadata_and_clean_ones_are_kept_as_they_are() {
        let plain = jpeg(64, 48);
        let stored = clean(&with_exif(&plain), ImageFormat::Jpeg).unwrap();
        assert!(!stored.windows(4).any(|w| w == b"Exif"));
        assert_eq!(
            clean(&stored, ImageFormat::Jpeg).unwrap(),
            stored,
            "a clean photo is kept"
        );
        let mut trailing = stored.clone();
        trailing.extend_from_slice(b"hidden");
        trailing.extend_from_slice(&[0xff, 0xd9]);
        assert!(!is_bare_jpeg(&trailing));
    }

    #[test]
    fn pngs_become_jpegs_and_bombs_and_fakes_are_refused() {
        let mut png = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::new(700, 10))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let stored = clean(&png, ImageFormat::Png).unwrap();
        let decoded = image::load_from_memory_with_format(&stored, ImageFormat::Jpeg).unwrap();
        assert!(decoded.width() <= MAX_SIDE && decoded.height() <= MAX_SIDE);
        assert!(clean(&[0xff, 0xd8, 0xff, 0xe0, 1, 2, 3], ImageFormat::Jpeg).is_err());
        // A few hundred bytes that decode to a canvas wider than any photo needs.
        let mut bomb = Vec::new();
        DynamicImage::ImageLuma8(image::GrayImage::new(DECODE_MAX_SIDE + 1, 1))
            .write_to(&mut Cursor::new(&mut bomb), ImageFormat::Png)
            .unwrap();
        assert!(bomb.len() < 4096);
        assert!(clean(&bomb, ImageFormat::Png).is_err());
    }
}
