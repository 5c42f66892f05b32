//! QR codes of invite links, as PNG data URIs that an `<img>` shows without another request.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::{ImageFormat, Luma};
use qrcode::QrCode;
use std::io::Cursor;

/// Smallest side of the image in pixels: large enough for a phone camera across a desk.
const MIN_SIDE: u32 = 240;

/// A `data:image/png;base64,…` URI of a QR code that encodes `text`.
pub(super) fn qr_png_data_uri(text: &str) -> anyhow::Result<String> {
    let code = QrCode::new(text.as_bytes()).context("text too long for a QR code")?;
    let image = code.render::<Luma<u8>>().min_dimensions(MIN_SIDE, MIN_SIDE).build();
    let mut png = Cursor::new(Vec::new());
    image
        .write_to(&mut png, ImageFormat::Png)
        .context("encoding the QR code as PNG")?;
    Ok(format!("data:image/png;base64,{}", STANDARD.encode(png.into_inner())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uri_is_a_png() {
        let uri = qr_png_data_uri("https://roster.example/join/inv_abc").unwrap();
        let payload = uri.strip_prefix("data:image/png;base64,").unwrap();
        let png = STANDARD.decode(payload).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
