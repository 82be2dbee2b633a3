//! SSD MobileNet v1 face detector (512×512 input, 5118 anchors).

use burn::tensor::{Device, Tensor};

use super::ops::{AnyConv, Conv, ConvSpec, InputConv, Padding, conv_from, to_vec, vec1};
use crate::error::RecognizerError;
use crate::weights::WeightMap;

/// Input side of the SSD net.
pub const INPUT_SIZE: usize = 512;
/// Number of anchors.
pub const NUM_ANCHORS: usize = 5118;
/// Multiply-adds per image (NETWORKS.md §9).
pub const MACS: f64 = 3143.0e6;
const BN_EPS: f32 = 0.001;

/// The SSD network.
#[derive(Debug, Clone)]
pub struct SsdNet {
    conv0: InputConv,
    blocks: Vec<(Conv, Conv)>,
    extras: Vec<AnyConv>,
    predictors: Vec<(Conv, Conv)>,
    /// Anchors (ymin, xmin, ymax, xmax), normalised to the padded square.
    pub anchors: Vec<[f32; 4]>,
    device: Device,
}

/// Raw SSD outputs: box encodings (ty, tx, th, tw) and class logits per anchor.
#[derive(Debug, Clone)]
pub struct SsdRaw {
    /// `NUM_ANCHORS` box encodings.
    pub boxes: Vec<[f32; 4]>,
    /// `NUM_ANCHORS` × 3 class logits.
    pub classes: Vec<[f32; 3]>,
}

fn pw_conv(
    w: &WeightMap,
    p: &str,
    stride: usize,
    device: &Device,
) -> Result<Conv, RecognizerError> {
    let f = w.get(&format!("{p}/weights"))?;
    let out = *f.shape.last().unwrap_or(&0);
    conv_from(
        w,
        ConvSpec {
            filter: &format!("{p}/weights"),
            bias: Some(vec1(w, &format!("{p}/convolution_bn_offset"), out)?),
            scale: None,
            stride,
            padding: Padding::Same,
            depthwise: false,
        },
        device,
    )
}

fn head(w: &WeightMap, p: &str, device: &Device) -> Result<Conv, RecognizerError> {
    let f = w.get(&format!("{p}/weights"))?;
    let out = *f.shape.last().unwrap_or(&0);
    conv_from(
        w,
        ConvSpec {
            filter: &format!("{p}/weights"),
            bias: Some(vec1(w, &format!("{p}/biases"), out)?),
            scale: None,
            stride: 1,
            padding: Padding::Valid,
            depthwise: false,
        },
        device,
    )
}

/// ReLU6 as two one-sided clamps: on flex this is ≈ 2× faster than `clamp(0, 6)`.
fn relu6(x: Tensor<4>) -> Tensor<4> {
    x.clamp_min(0.0).clamp_max(6.0)
}

impl SsdNet {
    /// Builds the net from its weights.
    pub fn new(w: &WeightMap, device: &Device) -> Result<Self, RecognizerError> {
        let conv0 =
            InputConv::from_conv(&pw_conv(w, "MobilenetV1/Conv2d_0_pointwise", 2, device)?)?;
        let mut blocks = Vec::new();
        for i in 1..=13 {
            let p = format!("MobilenetV1/Conv2d_{i}_depthwise");
            let c = w
                .get(&format!("{p}/depthwise_weights"))?
                .shape
                .get(2)
                .copied()
                .unwrap_or(0);
            let gamma = vec1(w, &format!("{p}/BatchNorm/gamma"), c)?;
            let beta = vec1(w, &format!("{p}/BatchNorm/beta"), c)?;
            let mean = vec1(w, &format!("{p}/BatchNorm/moving_mean"), c)?;
            let var = vec1(w, &format!("{p}/BatchNorm/moving_variance"), c)?;
            let k: Vec<f32> = gamma
                .iter()
                .zip(&var)
                .map(|(g, v)| g / (v + BN_EPS).sqrt())
                .collect();
            let bias = beta
                .iter()
                .zip(&mean)
                .zip(&k)
                .map(|((b, m), k)| b - m * k)
                .collect();
            let stride = if [2, 4, 6, 12].contains(&i) { 2 } else { 1 };
            let dw = conv_from(
                w,
                ConvSpec {
                    filter: &format!("{p}/depthwise_weights"),
                    bias: Some(bias),
                    scale: Some(k),
                    stride,
                    padding: Padding::Same,
                    depthwise: true,
                },
                device,
            )?;
            let pw = pw_conv(w, &format!("MobilenetV1/Conv2d_{i}_pointwise"), 1, device)?;
            blocks.push((dw, pw));
        }
        let mut extras = Vec::new();
        for i in 0..8 {
            // The 3×3 stride-2 extras are wide layers on ≤ 16×16 maps: im2col + matmul.
            extras.push(AnyConv::new(
                pw_conv(
                    w,
                    &format!("Prediction/Conv2d_{i}_pointwise"),
                    if i % 2 == 1 { 2 } else { 1 },
                    device,
                )?,
                128,
            )?);
        }
        let mut predictors = Vec::new();
        for i in 0..6 {
            predictors.push((
                head(
                    w,
                    &format!("Prediction/BoxPredictor_{i}/BoxEncodingPredictor"),
                    device,
                )?,
                head(
                    w,
                    &format!("Prediction/BoxPredictor_{i}/ClassPredictor"),
                    device,
                )?,
            ));
        }
        let a = w.get_shaped("Output/extra_dim", &[1, NUM_ANCHORS, 4])?;
        let anchors = a
            .values
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        Ok(Self {
            conv0,
            blocks,
            extras,
            predictors,
            anchors,
            device: device.clone(),
        })
    }

    /// Runs the net on one normalised CHW 512×512 input.
    pub fn forward(&self, input: Vec<f32>) -> Result<SsdRaw, RecognizerError> {
        let n = INPUT_SIZE;
        let mut x = relu6(self.conv0.forward(&input, 1, n, n, &self.device));
        let mut feats = Vec::new();
        for (i, (dw, pw)) in self.blocks.iter().enumerate() {
            x = relu6(dw.forward(x));
            x = relu6(pw.forward(x));
            if i + 1 == 11 {
                feats.push(x.clone());
            }
        }
        feats.push(x.clone());
        let mut y = x;
        for (i, c) in self.extras.iter().enumerate() {
            y = relu6(c.forward(y)?);
            if i % 2 == 1 {
                feats.push(y.clone());
            }
        }
        let mut boxes = Vec::with_capacity(NUM_ANCHORS);
        let mut classes = Vec::with_capacity(NUM_ANCHORS);
        for (f, (bp, cp)) in feats.into_iter().zip(&self.predictors) {
            let b = bp.forward(f.clone());
            let c = cp.forward(f);
            let [_, bc, h, w] = b.dims();
            let a = bc / 4;
            let bv = to_vec(b)?;
            let cv = to_vec(c)?;
            let hw = h * w;
            for pos in 0..hw {
                for an in 0..a {
                    boxes.push(std::array::from_fn(|k| bv[(an * 4 + k) * hw + pos]));
                    classes.push(std::array::from_fn(|k| cv[(an * 3 + k) * hw + pos]));
                }
            }
        }
        if boxes.len() != NUM_ANCHORS {
            return Err(RecognizerError::Weights(format!(
                "SSD produced {} anchors",
                boxes.len()
            )));
        }
        Ok(SsdRaw { boxes, classes })
    }
}
