//! Bad and unusual input never panics and gives typed errors (requirement 5).

use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig, RecognizerError, decode_image};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
const DEV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/dev/");

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).expect("fixture")
}

#[test]
fn empty_and_garbage_are_typed_errors() {
    let l = DecodeLimits::default();
    assert!(matches!(
        decode_image(&[], &l),
        Err(RecognizerError::EmptyInput)
    ));
    assert!(matches!(
        decode_image(b"hello, this is not an image", &l),
        Err(RecognizerError::UnsupportedFormat(_))
    ));
    // GIF magic: a real format, but not one we decode.
    assert!(matches!(
        decode_image(b"GIF89a\x01\x00\x01\x00\x00\x00\x00", &l),
        Err(RecognizerError::UnsupportedFormat(_))
    ));
}

#[test]
fn truncated_files_do_not_panic() {
    let l = DecodeLimits::default();
    let jpeg = read(&format!("{DEV}obama/obama-480p.jpg"));
    for cut in [2usize, 10, 100, 600, jpeg.len() / 2] {
        match decode_image(&jpeg[..cut], &l) {
            Ok(img) => assert!(img.width() > 0),
            Err(e) => assert!(
                matches!(
                    e,
                    RecognizerError::Decode(_) | RecognizerError::UnsupportedFormat(_)
                ),
                "cut {cut}: {e:?}"
            ),
        }
    }
    let png = read(&format!("{DATA}obama_grey.png"));
    for cut in [8usize, 20, 40, png.len() / 2] {
        assert!(decode_image(&png[..cut], &l).is_err(), "png cut at {cut}");
    }
}

/// A PNG header claiming 100 000 × 100 000 pixels is refused before any pixel is decoded.
#[test]
fn oversized_images_are_refused() {
    let l = DecodeLimits::default();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(chunk);
        png.extend_from_slice(&crc32(chunk).to_be_bytes());
    }
    match decode_image(&png, &l) {
        Err(RecognizerError::TooLarge { pixels, limit }) => {
            assert_eq!(pixels, 10_000_000_000);
            assert_eq!(limit, 40_000_000);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let small = DecodeLimits {
        max_pixels: 1000,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        decode_image(&read(&format!("{DATA}obama_grey.png")), &small),
        Err(RecognizerError::TooLarge {
            pixels: 102_480,
            limit: 1000
        })
    ));
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn unusual_colour_types_and_exif_orientation_work() {
    let l = DecodeLimits::default();
    let rec = Recognizer::new(RecognizerConfig::default()).expect("recognizer");
    let upright = decode_image(&read(&format!("{DEV}obama/obama-240p.jpg")), &l).expect("jpeg");
    let base = rec.detect(&upright).expect("detect");
    assert_eq!(base.len(), 1);
    for name in [
        "obama_grey.png",
        "obama_grey16.png",
        "obama_cmyk.jpg",
        "obama_exif6.jpg",
    ] {
        let img = decode_image(&read(&format!("{DATA}{name}")), &l).expect(name);
        // The EXIF-rotated file is stored 240x427 and must come back upright.
        assert_eq!((img.width(), img.height()), (427, 240), "{name}");
        let faces = rec.analyze(&img).expect("analyze");
        assert!(!faces.is_empty(), "{name}: no face");
        let iou = faces[0].detection.bbox.iou(&base[0].bbox);
        assert!(iou > 0.7, "{name}: IoU {iou}");
        let d = faces[0]
            .descriptor
            .distance(&rec.analyze(&upright).expect("a")[0].descriptor);
        assert!(d < 0.4, "{name}: distance {d}");
    }
    // Without orientation the stored (rotated) pixels are used.
    let raw = decode_image(
        &read(&format!("{DATA}obama_exif6.jpg")),
        &DecodeLimits {
            apply_orientation: false,
            ..l
        },
    )
    .expect("raw");
    assert_eq!((raw.width(), raw.height()), (240, 427));
}

#[test]
fn zero_sized_and_tiny_images_do_not_panic() {
    let rec = Recognizer::new(RecognizerConfig::tiny()).expect("recognizer");
    let empty = image::DynamicImage::new_rgb8(0, 0);
    assert!(matches!(
        rec.analyze(&empty),
        Err(RecognizerError::EmptyImage { .. })
    ));
    let one = image::DynamicImage::new_rgb8(1, 1);
    assert!(rec.analyze(&one).expect("1x1").is_empty());
    let strip = image::DynamicImage::new_luma8(3000, 2);
    assert!(rec.analyze(&strip).is_ok());
    // A box partly or fully outside the image.
    let img = image::DynamicImage::new_rgb8(100, 80);
    let dets = [
        cavs_recognizer::Detection {
            bbox: cavs_recognizer::BoundingBox {
                x: -20.0,
                y: -10.0,
                width: 60.0,
                height: 60.0,
            },
            score: 0.9,
        },
        cavs_recognizer::Detection {
            bbox: cavs_recognizer::BoundingBox {
                x: 500.0,
                y: 500.0,
                width: 60.0,
                height: 60.0,
            },
            score: 0.9,
        },
    ];
    let out = rec.embed_faces(&img, &dets).expect("embed");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].landmarks.len(), 68);
}
