//! Image processing: decode (refusing what does not decode), apply the EXIF orientation, drop
//! all metadata (re-encoding keeps pixels only), resize, encode as JPEG.

use std::io::Cursor;
use std::sync::LazyLock;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use tokio::sync::Semaphore;

/// Largest side a message image keeps; thumbnails fit in 300×300.
pub const MESSAGE_MAX: u32 = 1200;
pub const THUMBNAIL_MAX: u32 = 300;
/// Square avatar sizes.
pub const AVATAR_SIZES: [u32; 3] = [150, 300, 600];

/// Why an image was refused.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadImage(pub String);

/// Largest picture decoded (a 200-megapixel phone photo is refused; 50 Mpx is 8660×5773).
const MAX_PIXELS: u64 = 50_000_000;

/// Largest decoded size (50 Mpx at 16 bits per channel with alpha would pass the pixel check).
const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;

/// Image jobs running at once: one per core. Each may hold a few hundred MB while it works,
/// so a burst of uploads waits here instead of all decoding at the same time.
static JOBS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// Runs an image job on the blocking pool, at most [`JOBS`] at a time.
pub async fn process<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, actix_web::error::BlockingError> {
    // unwrap: the semaphore is never closed.
    let _permit = JOBS.acquire().await.unwrap();
    actix_web::web::block(job).await
}

/// Decodes with limits (no decompression bombs) and turns the image upright.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, BadImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| BadImage(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(16_000);
    limits.max_image_height = Some(16_000);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| BadImage(e.to_string()))?;
    // Checked before anything is allocated: a few-KB file can declare a huge picture.
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS || decoder.total_bytes() > MAX_DECODED_BYTES {
        return Err(BadImage(format!(
            "{w}×{h} is more than {} megapixels",
            MAX_PIXELS / 1_000_000
        )));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| BadImage(e.to_string()))?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Encodes as JPEG (RGB: transparency is flattened onto white).
pub fn jpeg(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let rgb = if img.color().has_alpha() {
        let rgba = img.to_rgba8();
        let mut out = image::RgbImage::new(rgba.width(), rgba.height());
        for (x, y, p) in rgba.enumerate_pixels() {
            let a = p[3] as u32;
            let blend = |c: u8| ((c as u32 * a + 255 * (255 - a)) / 255) as u8;
            out.put_pixel(x, y, image::Rgb([blend(p[0]), blend(p[1]), blend(p[2])]));
        }
        out
    } else {
        img.to_rgb8()
    };
    let mut buf = Vec::new();
    // unwrap: encoding into memory cannot fail for a valid RGB image.
    JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(&rgb)
        .unwrap();
    buf
}

/// A message image: the image to fit `MESSAGE_MAX` at quality 85, and a thumbnail.
pub struct MessageImage {
    pub image: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

pub fn message_image(bytes: &[u8]) -> Result<MessageImage, BadImage> {
    let img = decode(bytes)?;
    let img = if img.width() > MESSAGE_MAX || img.height() > MESSAGE_MAX {
        img.resize(MESSAGE_MAX, MESSAGE_MAX, FilterType::Triangle)
    } else {
        img
    };
    let thumb = img.thumbnail(THUMBNAIL_MAX, THUMBNAIL_MAX);
    Ok(MessageImage {
        width: img.width(),
        height: img.height(),
        image: jpeg(&img, 85),
        thumbnail: jpeg(&thumb, 80),
    })
}

/// An avatar: a centred square, at each of `AVATAR_SIZES`, quality 80.
pub fn avatar(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, BadImage> {
    let img = decode(bytes)?;
    let side = img.width().min(img.height());
    let square = img.crop_imm(
        (img.width() - side) / 2,
        (img.height() - side) / 2,
        side,
        side,
    );
    Ok(AVATAR_SIZES
        .iter()
        .map(|&n| {
            (
                n,
                jpeg(&square.resize_exact(n, n, FilterType::Triangle), 80),
            )
        })
        .collect())
}

/// Turns undecodable images into 422.
pub fn bad_image(e: BadImage) -> crate::error::ApiError {
    crate::error::ApiError {
        code: "invalid_image",
        ..crate::error::ApiError::invalid("file", format!("the image could not be decoded: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            w,
            h,
            image::Rgba([10, 200, 30, 128]),
        ));
        let mut buf = Vec::new();
        img.write_to(&mut Cursor::new(&mut buf), image::ImageFormat::Png)
            .unwrap();
        buf
    }

    #[test]
    fn message_images_fit_and_thumbnails_are_small() {
        let out = message_image(&png(2400, 1000)).unwrap();
        assert_eq!((out.width, out.height), (1200, 500));
        let thumb = decode(&out.thumbnail).unwrap();
        assert!(thumb.width() <= 300 && thumb.height() <= 300);
        assert_eq!(&out.image[..2], &[0xFF, 0xD8], "JPEG");
        let small = message_image(&png(300, 200)).unwrap();
        assert_eq!((small.width, small.height), (300, 200), "never enlarged");
    }

    #[test]
    fn avatars_are_square_at_three_sizes() {
        let sizes: Vec<(u32, u32)> = avatar(&png(800, 500))
            .unwrap()
            .iter()
            .map(|(n, b)| {
                let img = decode(b).unwrap();
                assert_eq!(img.width(), *n);
                (img.width(), img.height())
            })
            .collect();
        assert_eq!(sizes, [(150, 150), (300, 300), (600, 600)]);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(message_image(b"\xFF\xD8\xFF\xE0 not really a jpeg").is_err());
    }
}
