//! The tiny face detector (Tiny-YOLOv2-style with separable convolutions).

use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

use super::ops::{Conv, ConvSpec, Padding, conv_from, same_pad, tensor, to_vec, vec1};
use crate::error::RecognizerError;
use crate::weights::WeightMap;

/// Anchors (w, h) in grid cells.
pub const ANCHORS: [(f32, f32); 5] = [
    (1.603231, 2.094468),
    (6.041143, 7.080126),
    (2.882459, 3.518061),
    (4.266906, 5.178857),
    (9.041765, 10.66308),
];

/// Multiply-adds at a given input size (conv0 + separable convs + head), computed from the
/// layer shapes.
pub fn macs(size: usize) -> f64 {
    let mut s = size - 2; // conv0 VALID
    let mut total = (s * s * 27 * 16) as f64;
    let chans = [16usize, 32, 64, 128, 256, 512];
    for i in 1..6 {
        s = s.div_ceil(2);
        let (ci, co) = (chans[i - 1], chans[i]);
        total += (s * s * (9 * ci + ci * co)) as f64;
    }
    total + (s * s * 512 * 25) as f64
}

/// The tiny face detector network.
#[derive(Debug, Clone)]
pub struct TinyNet {
    conv0: Conv,
    seps: Vec<(Conv, Conv)>,
    conv8: Conv,
    device: Device,
}

/// 2×2 max-pool with TF SAME padding (−∞ at the bottom/right), built from element-wise
/// `max_pair` on views: much faster on flex than its generic windowed max-pool.
fn pool_same(x: Tensor<4>, stride: usize) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let (_, ph) = same_pad(h, 2, stride);
    let (_, pw) = same_pad(w, 2, stride);
    let x = if ph + pw > 0 {
        x.pad([(0, ph), (0, pw)], f32::NEG_INFINITY)
    } else {
        x
    };
    let (hp, wp) = (h + ph, w + pw);
    if stride == 1 {
        let (oh, ow) = (hp - 1, wp - 1);
        let v = |dy: usize, dx: usize| x.clone().narrow(2, dy, oh).narrow(3, dx, ow);
        return v(0, 0)
            .max_pair(v(0, 1))
            .max_pair(v(1, 0))
            .max_pair(v(1, 1));
    }
    // stride 2 (hp, wp even): max over the two trailing size-2 axes.
    let (oh, ow) = (hp / 2, wp / 2);
    x.reshape([n * c * oh, 2, ow, 2])
        .max_dim(3)
        .max_dim(1)
        .reshape([n, c, oh, ow])
}

impl TinyNet {
    /// Builds the net from its weights.
    pub fn new(w: &WeightMap, device: &Device) -> Result<Self, RecognizerError> {
        let conv0 = conv_from(
            w,
            ConvSpec {
                filter: "conv0/filters",
                bias: Some(vec1(w, "conv0/bias", 16)?),
                scale: None,
                stride: 1,
                padding: Padding::Valid,
                depthwise: false,
            },
            device,
        )?;
        let mut seps = Vec::new();
        for i in 1..6 {
            let p = format!("conv{i}");
            let out = *w
                .get(&format!("{p}/pointwise_filter"))?
                .shape
                .last()
                .unwrap_or(&0);
            let dw = conv_from(
                w,
                ConvSpec {
                    filter: &format!("{p}/depthwise_filter"),
                    bias: None,
                    scale: None,
                    stride: 1,
                    padding: Padding::Explicit(1),
                    depthwise: true,
                },
                device,
            )?;
            let pw = conv_from(
                w,
                ConvSpec {
                    filter: &format!("{p}/pointwise_filter"),
                    bias: Some(vec1(w, &format!("{p}/bias"), out)?),
                    scale: None,
                    stride: 1,
                    padding: Padding::Valid,
                    depthwise: false,
                },
                device,
            )?;
            seps.push((dw, pw));
        }
        let conv8 = conv_from(
            w,
            ConvSpec {
                filter: "conv8/filters",
                bias: Some(vec1(w, "conv8/bias", 25)?),
                scale: None,
                stride: 1,
                padding: Padding::Valid,
                depthwise: false,
            },
            device,
        )?;
        Ok(Self {
            conv0,
            seps,
            conv8,
            device: device.clone(),
        })
    }

    /// Runs the net on one normalised CHW input of side `size` (a multiple of 32); returns the
    /// raw output in (row, col, channel) order, `G·G·25` values with `G = size / 32`.
    pub fn forward(&self, input: Vec<f32>, size: usize) -> Result<Vec<f32>, RecognizerError> {
        let x = tensor(input, [1, 3, size, size], &self.device);
        let mut x = leaky_relu(self.conv0.forward(x), 0.1);
        for (dw, pw) in &self.seps {
            x = pool_same(x, 2);
            x = leaky_relu(pw.forward(dw.forward(x)), 0.1);
        }
        x = pool_same(x, 1);
        let y = self.conv8.forward(x);
        let [_, c, h, w] = y.dims();
        let chw = to_vec(y)?;
        let mut hwc = vec![0f32; chw.len()];
        for ch in 0..c {
            for i in 0..h * w {
                hwc[i * c + ch] = chw[ch * h * w + i];
            }
        }
        Ok(hwc)
    }
}
