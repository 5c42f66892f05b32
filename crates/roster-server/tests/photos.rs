//! Uploaded photos lose their metadata (EXIF, with GPS) and are stored as a bounded JPEG.

use crate::support::TestServer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::json;

/// A camera-sized JPEG (1600 × 1200) with an EXIF block holding a GPS position.
fn camera_photo() -> Vec<u8> {
    let picture = RgbImage::from_fn(1600, 1200, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 256) as u8])
    });
    let mut plain = Vec::new();
    JpegEncoder::new_with_quality(&mut plain, 80)
        .encode_image(&picture)
        .unwrap();
    // APP1 "Exif": a big-endian TIFF header, one IFD0 entry pointing at a GPS IFD with
    // latitude and longitude references (N, E).
    let mut tiff: Vec<u8> = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&[0, 1, 0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
    tiff.extend_from_slice(&[
        0, 2, 0, 1, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0, 0, 3, 0, 2, 0, 0, 0, 2, b'E', 0, 0, 0,
    ]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let length = u16::try_from(payload.len() + 2).unwrap().to_be_bytes();
    let mut photo = plain[..2].to_vec();
    photo.extend_from_slice(&[0xff, 0xe1, length[0], length[1]]);
    photo.extend_from_slice(&payload);
    photo.extend_from_slice(&plain[2..]);
    photo
}

#[tokio::test]
async fn uploaded_photos_lose_exif_and_gps_and_are_at_most_512_pixels() {
    let upload = camera_photo();
    assert!(upload.windows(6).any(|w| w == b"Exif\0\0"));
    let server = TestServer::start_with(|config| {
        config.photo_max_bytes = 900 * 1024;
        config.max_body_bytes = 2 * 1024 * 1024;
    })
    .await;
    let anna = server.user("anna").await;
    let (status, body) = anna
        .put(
            "/api/v1/me/card",
            json!({
                "formatted_name": "Anna",
                "phones": [{"number": "030 1234567"}],
                "photo": format!("data:image/jpeg;base64,{}", STANDARD.encode(&upload)),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", body["detail"]);
    let (status, mine) = anna.get("/api/v1/me/card").await;
    assert_eq!(status, StatusCode::OK);
    let photo = &mine["card"]["photo"];
    assert_eq!(photo["media_type"], "image/jpeg");
    let stored = STANDARD.decode(photo["data"].as_str().unwrap()).unwrap();
    assert!(!stored.windows(4).any(|w| w == b"Exif"), "EXIF kept");
    assert!(!stored.windows(2).any(|w| w == [0xff, 0xe1]), "an APP1 segment kept");
    let decoded = image::load_from_memory_with_format(&stored, ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (512, 384));
    server.stop().await;
}
