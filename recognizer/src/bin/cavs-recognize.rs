//! `cavs-recognize`: run the recognizer on image files.
//!
//! * `cavs-recognize IMAGE... --json` — one JSON line per image.
//! * `cavs-recognize compare A B` — distance between the largest faces of two images.
//! * `cavs-recognize parity` — full comparison with the original face-api outputs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cavs_recognizer::parity::{load_reference, run_png_parity};
use cavs_recognizer::{
    DecodeLimits, DetectorKind, FaceAnalysis, Recognizer, RecognizerConfig, ScanLimits, ScanMode,
    decode_file,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

#[derive(Parser, Debug)]
#[command(
    name = "cavs-recognize",
    version,
    about = "Face detection, landmarks and descriptors"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Images to analyse.
    images: Vec<PathBuf>,
    /// Print one JSON line per image (otherwise a short text summary).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    opts: Opts,
}

#[derive(Args, Debug, Clone)]
struct Opts {
    /// Face detector.
    #[arg(long, value_enum, default_value_t = Det::Ssd)]
    detector: Det,
    /// Minimum detection score (strictly above).
    #[arg(long, default_value_t = 0.5)]
    min_confidence: f32,
    /// NMS IoU threshold (default: 0.5 for ssd, 0.4 for tiny, as face-api).
    #[arg(long)]
    nms_iou: Option<f32>,
    /// Drop faces whose shorter side is below this many pixels.
    #[arg(long, default_value_t = 0)]
    min_face_size: u32,
    /// Input size of the tiny detector (multiple of 32).
    #[arg(long, default_value_t = 416)]
    tiny_input_size: u32,
    /// `multiscale`: face-api's pass plus finer passes for small faces in large frames;
    /// `single`: face-api's one pass (near cameras, small frames).
    #[arg(long, value_enum, default_value_t = Scan::Multiscale)]
    scan: Scan,
    /// Multiscale: shorter side in pixels of the smallest face to look for.
    #[arg(long, default_value_t = ScanLimits::default().smallest_face)]
    smallest_face: u32,
    /// Multiscale: at most this many scaled pixels in the finest pass.
    #[arg(long, default_value_t = ScanLimits::default().max_fine_pixels)]
    max_scan_pixels: usize,
    /// Refuse images with more pixels than this.
    #[arg(long, default_value_t = 40_000_000)]
    max_pixels: u64,
    /// Ignore the EXIF orientation (face-api ignores it).
    #[arg(long)]
    no_orientation: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Single,
    Multiscale,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Det {
    Ssd,
    Tiny,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Distance between the largest face of A and the largest face of B.
    Compare {
        /// First image.
        a: PathBuf,
        /// Second image.
        b: PathBuf,
        /// Same person when the distance is below this.
        #[arg(long, default_value_t = 0.6)]
        threshold: f32,
        #[command(flatten)]
        opts: Opts,
    },
    /// Compare with the original face-api outputs on the lossless reference PNGs.
    Parity {
        /// Reference JSON (face-api outputs).
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/reference/dev-png.json"))]
        reference: PathBuf,
        /// Folder with the PNGs named in the reference.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/faces/reference/png"))]
        png_dir: PathBuf,
        /// Detectors to compare.
        #[arg(long, value_enum, num_args = 1.., default_values_t = [Det::Ssd, Det::Tiny])]
        detector: Vec<Det>,
        /// Print every face's figures as JSON too.
        #[arg(long)]
        verbose: bool,
    },
}

impl Opts {
    fn config(&self) -> RecognizerConfig {
        let base = match self.detector {
            Det::Ssd => RecognizerConfig::default(),
            Det::Tiny => RecognizerConfig::tiny(),
        };
        RecognizerConfig {
            min_confidence: self.min_confidence,
            nms_iou: self.nms_iou.unwrap_or(base.nms_iou),
            min_face_size: self.min_face_size,
            tiny_input_size: self.tiny_input_size,
            scan: match self.scan {
                Scan::Single => ScanMode::Single,
                Scan::Multiscale => ScanMode::Multiscale,
            },
            smallest_face: self.smallest_face,
            max_scan_pixels: self.max_scan_pixels,
            ..base
        }
    }
    fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_pixels: self.max_pixels,
            apply_orientation: !self.no_orientation,
        }
    }
}

/// One face of a `--json` line.
#[derive(Serialize)]
struct FaceLine<'a> {
    #[serde(rename = "box")]
    bbox: [f32; 4],
    score: f32,
    landmarks: &'a [[f32; 2]],
    descriptor: &'a [f32],
}

/// One `--json` line.
#[derive(Serialize)]
struct ImageLine<'a> {
    image: &'a str,
    faces: Vec<FaceLine<'a>>,
    error: Option<String>,
}

fn face_line(f: &FaceAnalysis) -> FaceLine<'_> {
    let b = f.detection.bbox;
    FaceLine {
        bbox: [b.x, b.y, b.width, b.height],
        score: f.detection.score,
        landmarks: &f.landmarks,
        descriptor: &f.descriptor.0,
    }
}

fn run(args: RunArgs) -> Result<ExitCode> {
    if args.images.is_empty() {
        bail!("no images given (see --help)");
    }
    let rec = Recognizer::new(args.opts.config()).context("loading the recognizer")?;
    let limits = args.opts.limits();
    let mut failures = 0usize;
    for path in &args.images {
        let result = decode_file(path, &limits).and_then(|img| rec.analyze(&img));
        let shown = path.display().to_string();
        match (&result, args.json) {
            (Ok(faces), true) => {
                let line = ImageLine {
                    image: &shown,
                    faces: faces.iter().map(face_line).collect(),
                    error: None,
                };
                println!("{}", serde_json::to_string(&line)?);
            }
            (Err(e), true) => {
                let line = ImageLine {
                    image: &shown,
                    faces: Vec::new(),
                    error: Some(e.to_string()),
                };
                println!("{}", serde_json::to_string(&line)?);
            }
            (Ok(faces), false) => {
                println!("{shown}: {} face(s)", faces.len());
                for f in faces {
                    let b = f.detection.bbox;
                    println!(
                        "  box [{:.1}, {:.1}, {:.1}, {:.1}] score {:.3}",
                        b.x, b.y, b.width, b.height, f.detection.score
                    );
                }
            }
            (Err(e), false) => println!("{shown}: error: {e}"),
        }
        if result.is_err() {
            failures += 1;
        }
    }
    Ok(if failures == args.images.len() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn largest_face(rec: &Recognizer, path: &PathBuf, limits: &DecodeLimits) -> Result<FaceAnalysis> {
    let img = decode_file(path, limits).with_context(|| format!("reading {}", path.display()))?;
    let faces = rec.analyze(&img)?;
    faces
        .into_iter()
        .max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
        .with_context(|| format!("no face found in {}", path.display()))
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        None => run(cli.run),
        Some(Command::Compare {
            a,
            b,
            threshold,
            opts,
        }) => {
            let rec = Recognizer::new(opts.config())?;
            let fa = largest_face(&rec, &a, &opts.limits())?;
            let fb = largest_face(&rec, &b, &opts.limits())?;
            let d = fa.descriptor.distance(&fb.descriptor);
            let verdict = if d < threshold { "same" } else { "different" };
            println!("distance {d:.4}");
            println!("{verdict}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Parity {
            reference,
            png_dir,
            detector,
            verbose,
        }) => {
            let reference = load_reference(&reference)?;
            let mut ok = true;
            for det in detector {
                let (kind, config) = match det {
                    Det::Ssd => (DetectorKind::Ssd, RecognizerConfig::default()),
                    Det::Tiny => (DetectorKind::Tiny, RecognizerConfig::tiny()),
                };
                let rec = Recognizer::new(config)?;
                let r = run_png_parity(&rec, kind, &reference, &png_dir, None)?;
                println!(
                    "{}: {} images, {} reference faces, {} ours, {} missed; descriptor L2 median {:.2e} max {:.2e}; box IoU min {:.5}; landmark mean error max {:.4} px; score diff max {:.1e}",
                    r.detector,
                    r.images,
                    r.reference_faces,
                    r.our_faces,
                    r.missed,
                    r.descriptor_l2_median,
                    r.descriptor_l2_max,
                    r.iou_min,
                    r.landmark_mean_px_max,
                    r.faces.iter().map(|f| f.score_diff).fold(0.0f32, f32::max)
                );
                if verbose {
                    println!("{}", serde_json::to_string(&r.faces)?);
                }
                ok &= r.missed == 0
                    && r.descriptor_l2_median <= 0.02
                    && r.descriptor_l2_max <= 0.05
                    && r.iou_min >= 0.9
                    && r.landmark_mean_px_max <= 2.0;
            }
            println!("{}", if ok { "PASS" } else { "FAIL" });
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
