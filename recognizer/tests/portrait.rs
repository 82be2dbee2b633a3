//! Enrollment from tight ID-style face crops (`Recognizer::analyze_portrait`).

use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig, decode_file};
use image::{DynamicImage, RgbImage};

const MORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/more/");
const PEOPLE: [&str; 4] = ["bradley_cooper", "kate_siegel", "paul_rudd", "shea_whigham"];

fn aligned(name: &str) -> DynamicImage {
    decode_file(
        format!("{MORE}{name}/{name}_aligned.png"),
        &DecodeLimits::default(),
    )
    .expect("aligned crop")
}

/// The crop cut `inset` px tighter on every side and resized back to 150 px: the jaw line
/// and hairline are gone, as on many school ID photos.
fn tighter(img: &DynamicImage, inset: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    img.crop_imm(inset, inset, w - 2 * inset, h - 2 * inset)
        .resize_exact(150, 150, image::imageops::FilterType::Triangle)
}

#[test]
fn tight_crops_enroll_one_face_that_matches_the_persons_photo() {
    let rec = Recognizer::new(RecognizerConfig::default()).expect("recognizer");
    let mut rescued = 0;
    for name in PEOPLE {
        for inset in [0, 20] {
            let crop = if inset == 0 {
                aligned(name)
            } else {
                tighter(&aligned(name), inset)
            };
            let plain = rec.analyze(&crop).expect("analyze");
            let faces = rec.analyze_portrait(&crop).expect("portrait");
            assert_eq!(
                faces.len(),
                1,
                "{name} inset {inset}: {} faces",
                faces.len()
            );
            if plain.is_empty() {
                rescued += 1;
            }
            let b = faces[0].detection.bbox;
            assert!(
                b.x >= 0.0
                    && b.y >= 0.0
                    && b.x + b.width <= crop.width() as f32 + 0.01
                    && b.y + b.height <= crop.height() as f32 + 0.01
                    && b.width > 50.0,
                "{name} inset {inset}: box {b:?} not in the crop's pixels"
            );
            let photo = format!("{MORE}{name}/{name}_1.jpg");
            if std::path::Path::new(&photo).exists() {
                let img = decode_file(&photo, &DecodeLimits::default()).expect("photo");
                let full = rec.analyze(&img).expect("analyze photo");
                let largest = full
                    .iter()
                    .max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
                    .expect("a face in the full photo");
                let d = largest.descriptor.distance(&faces[0].descriptor);
                assert!(d < 0.6, "{name} inset {inset}: distance {d} to their photo");
            }
        }
    }
    // The tighter crops defeat the plain detector; the margin retry is what enrolls them.
    assert!(rescued >= 3, "only {rescued} crops needed the margin retry");
}

#[test]
fn a_photo_without_a_face_stays_empty() {
    let rec = Recognizer::new(RecognizerConfig::default()).expect("recognizer");
    let grey = DynamicImage::ImageRgb8(RgbImage::from_fn(150, 150, |x, y| {
        image::Rgb([(x * 7 % 200) as u8, (y * 5 % 180) as u8, 90])
    }));
    assert!(rec.analyze_portrait(&grey).expect("portrait").is_empty());
}
