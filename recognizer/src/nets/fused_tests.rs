//! Tests of [`super`]: the fused convolutions against flex's `conv2d` + bias + activation.

use super::*;
use crate::nets::ops::{ConvSpec, conv_from};
use crate::weights::{WeightMap, WeightTensor};

fn values(n: usize, seed: f32) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.37 + seed).sin() * 4.0)
        .collect()
}

fn conv(k: usize, c: usize, o: usize, stride: usize, padding: Padding, bias: bool) -> Conv {
    let mut m = WeightMap::default();
    m.insert(
        "f",
        WeightTensor {
            shape: vec![k, k, c, o],
            values: values(k * k * c * o, 0.3),
        },
    );
    let spec = ConvSpec {
        filter: "f",
        bias: bias.then(|| values(o, 2.0)),
        scale: None,
        stride,
        padding,
        depthwise: false,
    };
    conv_from(&m, spec, &Device::flex()).expect("conv")
}

#[test]
fn bias_act_adds_the_channel_bias_then_activates() {
    let mut v = vec![-1.0, 2.0, 5.0, 9.0, -7.0, 0.5, 3.0, 1.0];
    // Two images of two channels with planes of two values.
    bias_act(&mut v, &[1.0, -1.0], 2, Activation::Relu6);
    assert_eq!(v, vec![0.0, 3.0, 4.0, 6.0, 0.0, 1.5, 2.0, 0.0]);
    let mut v = vec![-1.0, 2.0];
    bias_act(&mut v, &[0.5], 2, Activation::Relu);
    assert_eq!(v, vec![0.0, 2.5]);
    let mut v = vec![-1.0, 2.0];
    bias_act(&mut v, &[0.5], 2, Activation::Identity);
    assert_eq!(v, vec![-0.5, 2.5]);
}

/// Every layer shape the nets use: 1×1 (read directly), 3×3 SAME stride 1 and 2, 7×7 VALID
/// stride 2, explicit padding, batch 2, and an input large enough for several bands.
#[test]
fn equals_flex_conv_with_bias_and_activation() {
    let device = Device::flex();
    let cases = [
        (1, 5, 7, 1, Padding::Same, 6, 9, Activation::Relu6),
        (3, 4, 6, 1, Padding::Same, 7, 5, Activation::Relu),
        (3, 4, 6, 2, Padding::Same, 8, 9, Activation::Identity),
        (7, 3, 4, 2, Padding::Valid, 15, 16, Activation::Relu),
        (3, 2, 3, 1, Padding::Explicit(1), 5, 4, Activation::Identity),
        (3, 3, 8, 2, Padding::Same, 200, 210, Activation::Relu6),
    ];
    for (k, c, o, stride, padding, h, w, act) in cases {
        let flex = conv(k, c, o, stride, padding, true);
        let x = tensor(values(2 * c * h * w, 0.7), [2, c, h, w], &device);
        let y = flex.forward(x.clone());
        let reference = match act {
            Activation::Identity => y,
            Activation::Relu => y.clamp_min(0.0),
            Activation::Relu6 => y.clamp_min(0.0).clamp_max(6.0),
        };
        let dims = reference.dims();
        let reference = to_vec(reference).expect("reference");
        let ours = GemmConv::from_conv(&flex, act)
            .expect("gemm conv")
            .forward(x)
            .expect("forward");
        let case = format!("{k}x{k} stride {stride} {padding:?} on {h}x{w}");
        assert_eq!(ours.dims(), dims, "{case}");
        let ours = to_vec(ours).expect("ours");
        let worst = ours
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "{case}: relative error {worst}");
    }
}

#[test]
fn a_conv_without_bias_gets_zeros() {
    let flex = conv(1, 3, 2, 1, Padding::Same, false);
    let x = tensor(values(3 * 4, 0.1), [1, 3, 2, 2], &Device::flex());
    let reference = to_vec(flex.forward(x.clone())).expect("reference");
    let ours = GemmConv::from_conv(&flex, Activation::Identity).expect("gemm conv");
    let ours = to_vec(ours.forward(x).expect("forward")).expect("ours");
    assert!(
        ours.iter()
            .zip(&reference)
            .all(|(a, b)| (a - b).abs() < 1e-5)
    );
}

#[test]
fn rejects_wrong_channels_empty_input_and_a_too_small_map() {
    let device = Device::flex();
    let c = GemmConv::from_conv(&conv(3, 2, 4, 1, Padding::Valid, true), Activation::Relu)
        .expect("gemm conv");
    let three = tensor(values(3 * 16, 0.0), [1, 3, 4, 4], &device);
    assert!(c.forward(three).is_err());
    assert!(c.forward_host(&[], [0, 2, 4, 4], &device).is_err());
    let tiny = tensor(values(2 * 4, 0.0), [1, 2, 2, 2], &device);
    assert!(c.forward(tiny).is_err());
    assert!(
        c.forward_host(&values(10, 0.0), [1, 2, 4, 4], &device)
            .is_err()
    );
}
