//! The face recognition net (face-api's port of dlib's ResNet-34-style model): 150×150 RGB
//! face crop → 128-D descriptor. The per-channel scale layers are folded into the convs.

use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

use super::fused::{Activation, GemmConv};
use super::ops::{Conv, ConvSpec, Padding, conv_from, max_pool_valid, tensor, to_vec, vec1};
use crate::error::RecognizerError;
use crate::weights::WeightMap;

/// Input side of the recognition net.
pub const INPUT_SIZE: usize = 150;
/// Multiply-adds per face (NETWORKS.md §9).
pub const MACS: f64 = 270.85e6;

#[derive(Debug, Clone)]
struct Residual {
    /// With its ReLU.
    conv1: GemmConv,
    /// Without activation: the ReLU follows the shortcut add.
    conv2: GemmConv,
    down: bool,
}

/// The recognition network.
#[derive(Debug, Clone)]
pub struct RecognitionNet {
    conv32_down: GemmConv,
    blocks: Vec<Residual>,
    fc: Tensor<2>,
    device: Device,
}

fn scaled_conv(
    w: &WeightMap,
    prefix: &str,
    stride: usize,
    padding: Padding,
    device: &Device,
) -> Result<Conv, RecognizerError> {
    let filt = w.get(&format!("{prefix}/conv/filters"))?;
    let out = *filt.shape.last().unwrap_or(&0);
    let bias = vec1(w, &format!("{prefix}/conv/bias"), out)?;
    let sw = vec1(w, &format!("{prefix}/scale/weights"), out)?;
    let sb = vec1(w, &format!("{prefix}/scale/biases"), out)?;
    // (conv(x) + b) * s + sb  ==  conv_{w·s}(x) + (b·s + sb)
    let fused_bias = bias
        .iter()
        .zip(&sw)
        .zip(&sb)
        .map(|((b, s), c)| b * s + c)
        .collect();
    conv_from(
        w,
        ConvSpec {
            filter: &format!("{prefix}/conv/filters"),
            bias: Some(fused_bias),
            scale: Some(sw),
            stride,
            padding,
            depthwise: false,
        },
        device,
    )
}

impl RecognitionNet {
    /// Builds the net from its weights.
    pub fn new(w: &WeightMap, device: &Device) -> Result<Self, RecognizerError> {
        let conv32_down = GemmConv::from_conv(
            &scaled_conv(w, "conv32_down", 2, Padding::Valid, device)?,
            Activation::Relu,
        )?;
        let names = [
            ("conv32_1", false),
            ("conv32_2", false),
            ("conv32_3", false),
            ("conv64_down", true),
            ("conv64_1", false),
            ("conv64_2", false),
            ("conv64_3", false),
            ("conv128_down", true),
            ("conv128_1", false),
            ("conv128_2", false),
            ("conv256_down", true),
            ("conv256_1", false),
            ("conv256_2", false),
            ("conv256_down_out", true),
        ];
        let mut blocks = Vec::new();
        for (n, down) in names {
            let (s, p) = if down {
                (2, Padding::Valid)
            } else {
                (1, Padding::Same)
            };
            blocks.push(Residual {
                conv1: GemmConv::from_conv(
                    &scaled_conv(w, &format!("{n}/conv1"), s, p, device)?,
                    Activation::Relu,
                )?,
                conv2: GemmConv::from_conv(
                    &scaled_conv(w, &format!("{n}/conv2"), 1, Padding::Same, device)?,
                    Activation::Identity,
                )?,
                down,
            });
        }
        let fc = w.get_shaped("fc", &[256, 128])?;
        Ok(Self {
            conv32_down,
            blocks,
            fc: tensor(fc.values.clone(), [256, 128], device),
            device: device.clone(),
        })
    }

    /// Runs the net on normalised CHW inputs (`n` faces, `3·150·150` values each) and
    /// returns `n` descriptors.
    pub fn forward(&self, input: Vec<f32>, n: usize) -> Result<Vec<[f32; 128]>, RecognizerError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let x =
            self.conv32_down
                .forward_host(&input, [n, 3, INPUT_SIZE, INPUT_SIZE], &self.device)?;
        let mut x = max_pool_valid(x, 3, 2)?;
        for b in &self.blocks {
            let y = b.conv1.forward(x.clone())?;
            let mut y = b.conv2.forward(y)?;
            let shortcut = if b.down {
                let mut p = avg_pool2d(x, AvgPoolOptions::new([2, 2]).with_stride([2, 2]));
                let [_, pc, ph, pw] = p.dims();
                let [_, yc, yh, yw] = y.dims();
                if yh < ph || yw < pw {
                    y = y.pad([(0, ph - yh), (0, pw - yw)], 0.0);
                }
                if pc < yc {
                    let zeros = Tensor::<4>::zeros([n, yc - pc, ph, pw], &self.device);
                    p = Tensor::cat(vec![p, zeros], 1);
                }
                p
            } else {
                x
            };
            x = relu(y + shortcut);
        }
        let [_, c, h, w] = x.dims();
        let pooled = x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c]);
        let out = to_vec(pooled.matmul(self.fc.clone()))?;
        Ok(out
            .chunks_exact(128)
            .map(|ch| {
                let mut d = [0f32; 128];
                d.copy_from_slice(ch);
                d
            })
            .collect())
    }
}
