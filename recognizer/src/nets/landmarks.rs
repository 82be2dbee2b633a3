//! The 68-point landmark net (`face_landmark_68_model`): 112×112 face crop → 136 values
//! (x0, y0, x1, y1, ...) relative to the padded input.

use burn::tensor::activation::relu;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;
use burn::tensor::{Device, Tensor};

use super::ops::{Conv, ConvSpec, InputConv, Padding, conv_from, tensor, to_vec, vec1};
use crate::error::RecognizerError;
use crate::weights::WeightMap;

/// Input side of the landmark net.
pub const INPUT_SIZE: usize = 112;
/// Multiply-adds per face (NETWORKS.md §9).
pub const MACS: f64 = 51.57e6;

#[derive(Debug, Clone)]
enum Unit {
    Plain(Box<Conv>),
    Sep(Box<(Conv, Conv)>),
}

impl Unit {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Unit::Plain(c) => c.forward(x),
            Unit::Sep(s) => s.1.forward(s.0.forward(x)),
        }
    }
}

/// The landmark network.
#[derive(Debug, Clone)]
pub struct LandmarkNet {
    /// `dense0/conv0` (3 → 32) as host im2col + matmul.
    conv0: InputConv,
    blocks: Vec<Vec<Unit>>,
    fc_w: Tensor<2>,
    fc_b: Tensor<2>,
    device: Device,
}

fn sep(w: &WeightMap, p: &str, stride: usize, device: &Device) -> Result<Unit, RecognizerError> {
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
    Ok(Unit::Sep(Box::new((dw, pw))))
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
                    Unit::Plain(Box::new(conv_from(
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
                    )?))
                } else {
                    sep(w, &p, if c == 0 { 2 } else { 1 }, device)?
                };
                units.push(u);
            }
            blocks.push(units);
        }
        let fw = w.get_shaped("fc/weights", &[256, 136])?;
        let fb = vec1(w, "fc/bias", 136)?;
        let conv0 = match blocks.first().and_then(|b| b.first()) {
            Some(Unit::Plain(c)) => InputConv::from_conv(c)?,
            _ => return Err(RecognizerError::Weights("dense0/conv0 missing".into())),
        };
        Ok(Self {
            conv0,
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
        let mut x: Option<Tensor<4>> = None;
        for units in &self.blocks {
            let o1 = relu(match x.take() {
                None => self
                    .conv0
                    .forward(&input, n, INPUT_SIZE, INPUT_SIZE, &self.device)?,
                Some(x) => units[0].forward(x),
            });
            let o2 = units[1].forward(o1.clone());
            let s12 = o1 + o2;
            let o3 = units[2].forward(relu(s12.clone()));
            let s123 = s12 + o3;
            let o4 = units[3].forward(relu(s123.clone()));
            x = Some(relu(s123 + o4));
        }
        let x = x.ok_or_else(|| RecognizerError::Weights("landmark net has no blocks".into()))?;
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
