//! The 68-point landmark net (`face_landmark_68_model`): 112×112 face crop → 136 values
//! (x0, y0, x1, y1, ...) relative to the padded input.

use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

use super::depthwise::Depthwise;
use super::fused::{Activation, GemmConv};
use super::ops::{ConvSpec, Padding, conv_from, tensor, to_vec, vec1};
use crate::error::RecognizerError;
use crate::weights::WeightMap;

/// Input side of the landmark net.
pub const INPUT_SIZE: usize = 112;
/// Multiply-adds per face (NETWORKS.md §9).
pub const MACS: f64 = 51.57e6;

/// One convolution of a dense block: plain (`dense0/conv0`) or depthwise-separable.
#[derive(Debug, Clone)]
enum Unit {
    Plain(Box<GemmConv>),
    Sep(Box<(Depthwise, GemmConv)>),
}

impl Unit {
    fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>, RecognizerError> {
        match self {
            Unit::Plain(c) => c.forward(x),
            Unit::Sep(s) => s.1.forward(s.0.forward(x)?),
        }
    }
}

/// The first unit of each block is followed by a ReLU, applied with its bias.
fn activation(unit: usize) -> Activation {
    if unit == 0 {
        Activation::Relu
    } else {
        Activation::Identity
    }
}

/// The landmark network.
#[derive(Debug, Clone)]
pub struct LandmarkNet {
    blocks: Vec<Vec<Unit>>,
    fc_w: Tensor<2>,
    fc_b: Tensor<2>,
    device: Device,
}

fn sep(
    w: &WeightMap,
    p: &str,
    stride: usize,
    act: Activation,
    device: &Device,
) -> Result<Unit, RecognizerError> {
    let pwf = w.get(&format!("{p}/pointwise_filter"))?;
    let out = *pwf.shape.last().unwrap_or(&0);
    let dw = conv_from(
        w,
        ConvSpec {
            filter: &format!("{p}/depthwise_filter"),
            bias: None,
            scale: None,
            stride,
            padding: Padding::Same,
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
    Ok(Unit::Sep(Box::new((
        Depthwise::from_conv(&dw, Activation::Identity)?,
        GemmConv::from_conv(&pw, act)?,
    ))))
}

impl LandmarkNet {
    /// Builds the net from its weights.
    pub fn new(w: &WeightMap, device: &Device) -> Result<Self, RecognizerError> {
        let mut blocks = Vec::new();
        for b in 0..4 {
            let mut units = Vec::new();
            for c in 0..4 {
                let p = format!("dense{b}/conv{c}");
                let u = if b == 0 && c == 0 {
                    Unit::Plain(Box::new(GemmConv::from_conv(
                        &conv_from(
                            w,
                            ConvSpec {
                                filter: &format!("{p}/filters"),
                                bias: Some(vec1(w, &format!("{p}/bias"), 32)?),
                                scale: None,
                                stride: 2,
                                padding: Padding::Same,
                                depthwise: false,
                            },
                            device,
                        )?,
                        activation(c),
                    )?))
                } else {
                    sep(w, &p, if c == 0 { 2 } else { 1 }, activation(c), device)?
                };
                units.push(u);
            }
            blocks.push(units);
        }
        let fw = w.get_shaped("fc/weights", &[256, 136])?;
        let fb = vec1(w, "fc/bias", 136)?;
        Ok(Self {
            blocks,
            fc_w: tensor(fw.values.clone(), [256, 136], device),
            fc_b: tensor(fb, [1, 136], device),
            device: device.clone(),
        })
    }

    /// Runs the net on `n` normalised CHW inputs (`3·112·112` values each); returns the raw
    /// 136 outputs per face.
    pub fn forward(&self, input: Vec<f32>, n: usize) -> Result<Vec<[f32; 136]>, RecognizerError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut x = tensor(input, [n, 3, INPUT_SIZE, INPUT_SIZE], &self.device);
        for units in &self.blocks {
            let o1 = units[0].forward(x)?;
            let o2 = units[1].forward(o1.clone())?;
            let s12 = o1 + o2;
            let o3 = units[2].forward(relu(s12.clone()))?;
            let s123 = s12 + o3;
            let o4 = units[3].forward(relu(s123.clone()))?;
            x = relu(s123 + o4);
        }
        let pooled = avg_pool2d(x, AvgPoolOptions::new([7, 7]).with_stride([2, 2]));
        let [_, c, _, _] = pooled.dims();
        let y = pooled.reshape([n, c]).matmul(self.fc_w.clone()) + self.fc_b.clone();
        let out = to_vec(y)?;
        Ok(out
            .chunks_exact(136)
            .map(|ch| {
                let mut d = [0f32; 136];
                d.copy_from_slice(ch);
                d
            })
            .collect())
    }
}
