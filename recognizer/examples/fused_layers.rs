//! The MobileNet layers of a 1080p frame's fine level (SSD on 1152×672), flex's conv + bias +
//! ReLU6 against the fused [`Depthwise`] / [`GemmConv`] layers: best of 7 interleaved runs
//! each, the input copy every run starts with subtracted, and GFLOP/s from the layer's
//! multiply-adds: `cargo run --release -p cavs-recognizer --example fused_layers`.

use burn::tensor::{Device, Tensor, TensorData};
use cavs_recognizer::nets::depthwise::Depthwise;
use cavs_recognizer::nets::fused::{Activation, GemmConv};
use cavs_recognizer::nets::ops::{ConvSpec, Padding, conv_from};
use cavs_recognizer::weights::{WeightMap, WeightTensor};
use std::time::Instant;

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i as f32) * 0.37).sin()).collect()
}

/// Best time in ms of each of `runs`, interleaved.
fn best_ms(runs: &[&dyn Fn() -> Tensor<4>]) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; runs.len()];
    for _ in 0..7 {
        for (b, run) in best.iter_mut().zip(runs) {
            let t = Instant::now();
            let y = run();
            let _ = y.dims();
            drop(y);
            *b = b.min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    best
}

/// One depthwise 3×3 layer (`c` channels of `h × w`, `stride`) and the pointwise `c → o`
/// after it.
fn layer(device: &Device, c: usize, o: usize, (h, w): (usize, usize), stride: usize) {
    let mut m = WeightMap::default();
    m.insert(
        "dw",
        WeightTensor {
            shape: vec![3, 3, c, 1],
            values: values(9 * c),
        },
    );
    m.insert(
        "pw",
        WeightTensor {
            shape: vec![1, 1, c, o],
            values: values(c * o),
        },
    );
    let spec = |filter, depthwise: bool, stride| ConvSpec {
        filter,
        bias: Some(values(if depthwise { c } else { o })),
        scale: None,
        stride,
        padding: Padding::Same,
        depthwise,
    };
    let dw = conv_from(&m, spec("dw", true, stride), device).expect("dw");
    let pw = conv_from(&m, spec("pw", false, 1), device).expect("pw");
    let fdw = Depthwise::from_conv(&dw, Activation::Relu6).expect("fused dw");
    let fpw = GemmConv::from_conv(&pw, Activation::Relu6).expect("fused pw");
    let (oh, ow) = (h.div_ceil(stride), w.div_ceil(stride));
    let dw_in = values(c * h * w);
    let pw_in = values(c * oh * ow);
    let input = |v: &Vec<f32>, h, w| {
        Tensor::<4>::from_data(TensorData::new(v.clone(), [1, c, h, w]), device)
    };
    let t = best_ms(&[
        &|| {
            dw.forward(input(&dw_in, h, w))
                .clamp_min(0.0)
                .clamp_max(6.0)
        },
        &|| fdw.forward(input(&dw_in, h, w)).expect("dw"),
        &|| input(&dw_in, h, w),
        &|| {
            pw.forward(input(&pw_in, oh, ow))
                .clamp_min(0.0)
                .clamp_max(6.0)
        },
        &|| fpw.forward(input(&pw_in, oh, ow)).expect("pw"),
        &|| input(&pw_in, oh, ow),
    ]);
    let gflops = |macs: usize, ms: f64| 2.0 * macs as f64 / (ms.max(1e-3) * 1e6);
    let (dw_macs, pw_macs) = (9 * c * oh * ow, c * o * oh * ow);
    let (dw_flex, dw_ours) = (t[0] - t[2], t[1] - t[2]);
    let (pw_flex, pw_ours) = (t[3] - t[5], t[4] - t[5]);
    println!(
        "{c:4} ch {h:3}x{w:<4} s{stride}: depthwise flex {dw_flex:6.1} ms ({:5.1} GFLOP/s) \
         ours {dw_ours:6.1} ms ({:5.1}) | pointwise -> {o:4}: flex {pw_flex:6.1} ms ({:5.1}) \
         ours {pw_ours:6.1} ms ({:5.1})",
        gflops(dw_macs, dw_flex),
        gflops(dw_macs, dw_ours),
        gflops(pw_macs, pw_flex),
        gflops(pw_macs, pw_ours),
    );
}

fn main() {
    cavs_recognizer::alloc::tune_allocator();
    let device = Device::flex();
    // (channels in, out, input map, stride) of MobileNet blocks 1-13 on 1152×672.
    let blocks = [
        (32, 64, (336, 576), 1),
        (64, 128, (336, 576), 2),
        (128, 128, (168, 288), 1),
        (128, 256, (168, 288), 2),
        (256, 256, (84, 144), 1),
        (256, 512, (84, 144), 2),
        (512, 512, (42, 72), 1),
        (512, 1024, (42, 72), 2),
        (1024, 1024, (21, 36), 1),
    ];
    for (c, o, map, stride) in blocks {
        layer(&device, c, o, map, stride);
    }
}
