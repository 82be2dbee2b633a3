//! One MobileNet layer pair of a 1080p frame's fine level (64 → 128 channels on 576×336),
//! flex's conv + bias + ReLU6 against the fused [`GemmConv`] / [`Depthwise`] layers, best of
//! 15 interleaved runs (the input copy each run starts with is timed on its own):
//! `cargo run --release -p cavs-recognizer --example fused_layers`.

use burn::tensor::{Device, Tensor, TensorData};
use cavs_recognizer::nets::depthwise::Depthwise;
use cavs_recognizer::nets::fused::{Activation, GemmConv};
use cavs_recognizer::nets::ops::{ConvSpec, Padding, conv_from};
use cavs_recognizer::weights::{WeightMap, WeightTensor};
use std::time::Instant;

fn main() {
    cavs_recognizer::alloc::tune_allocator();
    let device = Device::flex();
    let (c, o, h, w) = (64usize, 128usize, 336usize, 576usize);
    let vals = |n: usize| {
        (0..n)
            .map(|i| ((i as f32) * 0.37).sin())
            .collect::<Vec<f32>>()
    };
    let mut m = WeightMap::default();
    m.insert(
        "pw",
        WeightTensor {
            shape: vec![1, 1, c, o],
            values: vals(c * o),
        },
    );
    m.insert(
        "dw",
        WeightTensor {
            shape: vec![3, 3, c, 1],
            values: vals(9 * c),
        },
    );
    let xin = vals(c * h * w);
    let spec = |f, d: bool| ConvSpec {
        filter: f,
        bias: Some(vals(if d { c } else { o })),
        scale: None,
        stride: 1,
        padding: Padding::Same,
        depthwise: d,
    };
    let pw = conv_from(&m, spec("pw", false), &device).unwrap();
    let dw = conv_from(&m, spec("dw", true), &device).unwrap();
    let fpw = GemmConv::from_conv(&pw, Activation::Relu6).unwrap();
    let fdw = Depthwise::from_conv(&dw, Activation::Relu6).unwrap();
    let x = || Tensor::<4>::from_data(TensorData::new(xin.clone(), [1, c, h, w]), &device);
    let mut best = [f64::INFINITY; 5];
    for _ in 0..15 {
        let runs: [&dyn Fn() -> Tensor<4>; 5] = [
            &|| pw.forward(x()).clamp_min(0.0).clamp_max(6.0),
            &|| fpw.forward(x()).unwrap(),
            &|| dw.forward(x()).clamp_min(0.0).clamp_max(6.0),
            &|| fdw.forward(x()).unwrap(),
            &|| x(),
        ];
        for (i, r) in runs.iter().enumerate() {
            let t = Instant::now();
            let y = r();
            let _ = y.dims();
            drop(y);
            best[i] = best[i].min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    println!(
        "pw flex {:.1} fused {:.1} | dw flex {:.1} fused {:.1} | input copy {:.1} ms",
        best[0], best[1], best[2], best[3], best[4]
    );
}
