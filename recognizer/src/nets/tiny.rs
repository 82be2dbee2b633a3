//! The tiny face detector (Tiny-YOLOv2-style with separable convolutions).

use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

use super::ops::{Conv, ConvSpec, Padding, conv_from, tensor, to_vec, vec1};
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

/// 2×2 max-pool with TF SAME padding (−∞ at the bottom/right). flex's pooling and
/// reduction kernels are generic strided loops; this host loop over the NCHW planes is
/// several times faster.
fn pool_same(x: Tensor<4>, stride: usize) -> Result<Tensor<4>, RecognizerError> {
    let [n, c, h, w] = x.dims();
    let device = x.device();
    let (oh, ow) = (h.div_ceil(stride), w.div_ceil(stride));
    let v = to_vec(x)?;
    let mut out = vec![0f32; n * c * oh * ow];
    for (src, dst) in v.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        for oy in 0..oh {
            let y0 = oy * stride;
            let r0 = &src[y0 * w..(y0 + 1) * w];
            let r1 = if y0 + 1 < h {
                &src[(y0 + 1) * w..(y0 + 2) * w]
            } else {
                r0
            };
            let d = &mut dst[oy * ow..(oy + 1) * ow];
            for (ox, o) in d.iter_mut().enumerate() {
                let x0 = ox * stride;
                let x1 = if x0 + 1 < w { x0 + 1 } else { x0 };
                *o = r0[x0].max(r0[x1]).max(r1[x0]).max(r1[x1]);
            }
        }
    }
    Ok(tensor(out, [n, c, oh, ow], &device))
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
        self.forward_grid(input, size, size)
    }

    /// Runs the net fully convolutionally on one normalised CHW input of `h × w` (multiples
    /// of 32); returns the raw output in (row, col, channel) order, `(h/32)·(w/32)·25` values.
    pub fn forward_grid(
        &self,
        input: Vec<f32>,
        h: usize,
        w: usize,
    ) -> Result<Vec<f32>, RecognizerError> {
        if !h.is_multiple_of(32) || !w.is_multiple_of(32) || h == 0 || w == 0 {
            return Err(RecognizerError::Config(format!(
                "tiny detector input {w}x{h} must be a non-empty multiple of 32"
            )));
        }
        let x = tensor(input, [1, 3, h, w], &self.device);
        let mut x = leaky_relu(self.conv0.forward(x), 0.1);
        for (dw, pw) in &self.seps {
            x = pool_same(x, 2)?;
            x = leaky_relu(pw.forward(dw.forward(x)), 0.1);
        }
        x = pool_same(x, 1)?;
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
