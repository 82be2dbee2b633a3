//! SSD MobileNet v1 face detector (512×512 input, 5118 anchors).

use burn::tensor::Device;

use super::depthwise::Depthwise;
use super::fused::{Activation, GemmConv};
use super::ops::{Conv, ConvSpec, Padding, conv_from, to_vec, vec1};
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
    conv0: GemmConv,
    /// MobileNet's depthwise + pointwise pairs, each with its BN bias and ReLU6 fused.
    blocks: Vec<(Depthwise, GemmConv)>,
    /// The extra feature layers, each with its ReLU6.
    extras: Vec<GemmConv>,
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

impl SsdNet {
    /// Builds the net from its weights.
    pub fn new(w: &WeightMap, device: &Device) -> Result<Self, RecognizerError> {
        let conv0 = GemmConv::from_conv(
            &pw_conv(w, "MobilenetV1/Conv2d_0_pointwise", 2, device)?,
            Activation::Relu6,
        )?;
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
            blocks.push((
                Depthwise::from_conv(&dw, Activation::Relu6)?,
                GemmConv::from_conv(&pw, Activation::Relu6)?,
            ));
        }
        let mut extras = Vec::new();
        for i in 0..8 {
            extras.push(GemmConv::from_conv(
                &pw_conv(
                    w,
                    &format!("Prediction/Conv2d_{i}_pointwise"),
                    if i % 2 == 1 { 2 } else { 1 },
                    device,
                )?,
                Activation::Relu6,
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

    /// Runs the net on one normalised CHW 512×512 input (face-api's pass).
    pub fn forward(&self, input: Vec<f32>) -> Result<SsdRaw, RecognizerError> {
        let n = INPUT_SIZE;
        let (boxes, classes, _) = self.run(&input, n, n, HEADS)?;
        if boxes.len() != NUM_ANCHORS {
            return Err(RecognizerError::Weights(format!(
                "SSD produced {} anchors",
                boxes.len()
            )));
        }
        Ok(SsdRaw { boxes, classes })
    }

    /// Runs the net fully convolutionally on one normalised CHW input of `h × w` (both
    /// multiples of 32), computing only the first `heads` box predictors (1 = the stride-16
    /// head, 2 = also the stride-32 head). The anchors follow the generator that made the
    /// 512 anchors (checked against them in a test), at the same pixel sizes, so the net sees
    /// faces exactly as it was trained to; one pass over a large input does the work of every
    /// overlapping 512 tile once.
    pub fn forward_grid(
        &self,
        input: &[f32],
        h: usize,
        w: usize,
        heads: usize,
    ) -> Result<SsdGrid, RecognizerError> {
        if !h.is_multiple_of(32)
            || !w.is_multiple_of(32)
            || h == 0
            || w == 0
            || !(1..=2).contains(&heads)
        {
            return Err(RecognizerError::Config(format!(
                "SSD grid input {w}x{h} must be a non-empty multiple of 32, heads 1..=2"
            )));
        }
        let (boxes, classes, grids) = self.run(input, h, w, heads)?;
        let anchors = grid_anchors(&grids);
        if anchors.len() != boxes.len() {
            return Err(RecognizerError::Weights(format!(
                "SSD grid produced {} predictions for {} anchors",
                boxes.len(),
                anchors.len()
            )));
        }
        Ok(SsdGrid {
            raw: SsdRaw { boxes, classes },
            anchors,
        })
    }

    /// The backbone and the first `heads` predictors on an `h × w` input; predictions in
    /// (head, row, col, anchor) order and the grid size of each head used.
    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        input: &[f32],
        h: usize,
        w: usize,
        heads: usize,
    ) -> Result<(Vec<[f32; 4]>, Vec<[f32; 3]>, Vec<(usize, usize)>), RecognizerError> {
        let mut x = self.conv0.forward_host(input, [1, 3, h, w], &self.device)?;
        let mut feats = Vec::new();
        // Blocks 12 and 13 only feed the second head onwards.
        let blocks = if heads >= 2 { self.blocks.len() } else { 11 };
        for (i, (dw, pw)) in self.blocks.iter().take(blocks).enumerate() {
            x = pw.forward(dw.forward(x)?)?;
            if i + 1 == 11 {
                feats.push(x.clone());
            }
        }
        if heads >= 2 {
            feats.push(x.clone());
        }
        if heads > 2 {
            let mut y = x;
            for (i, c) in self.extras.iter().enumerate() {
                y = c.forward(y)?;
                if i % 2 == 1 {
                    feats.push(y.clone());
                }
            }
        }
        let mut boxes = Vec::new();
        let mut classes = Vec::new();
        let mut grids = Vec::new();
        for (f, (bp, cp)) in feats.into_iter().zip(&self.predictors).take(heads) {
            let b = bp.forward(f.clone());
            let c = cp.forward(f);
            let [_, bc, gh, gw] = b.dims();
            let a = bc / 4;
            let bv = to_vec(b)?;
            let cv = to_vec(c)?;
            let hw = gh * gw;
            for pos in 0..hw {
                for an in 0..a {
                    boxes.push(std::array::from_fn(|k| bv[(an * 4 + k) * hw + pos]));
                    classes.push(std::array::from_fn(|k| cv[(an * 3 + k) * hw + pos]));
                }
            }
            grids.push((gh, gw));
        }
        Ok((boxes, classes, grids))
    }
}

/// Multiply-adds of [`SsdNet::forward_grid`] on an `h × w` input with `heads` heads (1 or
/// 2), from the layer shapes (for GFLOP/s figures).
pub fn grid_macs(h: usize, w: usize, heads: usize) -> f64 {
    const CHANNELS: [usize; 14] = [
        32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024,
    ];
    let (mut oh, mut ow) = (h.div_ceil(2), w.div_ceil(2));
    let mut total = (oh * ow * 27 * 32) as f64;
    let blocks = if heads >= 2 { 13 } else { 11 };
    for i in 1..=blocks {
        if [2, 4, 6, 12].contains(&i) {
            (oh, ow) = (oh.div_ceil(2), ow.div_ceil(2));
        }
        let (ci, co) = (CHANNELS[i - 1], CHANNELS[i]);
        total += (oh * ow * (9 * ci + ci * co)) as f64;
        if i == 11 {
            // Head 0: 3 anchors × (4 box + 3 class) outputs on 512 channels.
            total += (oh * ow * 512 * 21) as f64;
        }
    }
    if heads >= 2 {
        total += (oh * ow * 1024 * 42) as f64;
    }
    total
}

/// Predictor heads of the full net.
pub const HEADS: usize = 6;

/// Raw predictions of [`SsdNet::forward_grid`] with their anchors, in input pixels
/// (ymin, xmin, ymax, xmax).
#[derive(Debug, Clone)]
pub struct SsdGrid {
    /// Box encodings and class logits, one per anchor.
    pub raw: SsdRaw,
    /// The anchors in input pixels.
    pub anchors: Vec<[f32; 4]>,
}

/// (scale, aspect ratio) of each anchor of head `head`, in the model's order (TF's
/// `ssd_anchor_generator`: 6 layers, scales 0.2…0.95; per cell the scale at ratio 1, the
/// interpolated scale √(sₗ·sₗ₊₁) at ratio 1, then ratios 2, ½, 3, ⅓; the lowest layer reduced
/// to (0.1, 1), (0.2, 2), (0.2, ½)). Scales are fractions of 512 px.
pub fn anchor_shapes(head: usize) -> Vec<(f64, f64)> {
    let scale = |l: usize| {
        if l >= HEADS {
            1.0
        } else {
            0.2 + (0.95 - 0.2) * l as f64 / (HEADS - 1) as f64
        }
    };
    if head == 0 {
        return vec![(0.1, 1.0), (scale(0), 2.0), (scale(0), 0.5)];
    }
    let s = scale(head);
    vec![
        (s, 1.0),
        ((s * scale(head + 1)).sqrt(), 1.0),
        (s, 2.0),
        (s, 0.5),
        (s, 3.0),
        (s, 1.0 / 3.0),
    ]
}

/// Anchors in input pixels (ymin, xmin, ymax, xmax) for heads with the given grid sizes:
/// cell (r, c) of head `l` is centred at ((r + ½)·sy, (c + ½)·sx) with the stride of the
/// head (16·2^l px), anchor sizes as at 512 px.
pub fn grid_anchors(grids: &[(usize, usize)]) -> Vec<[f32; 4]> {
    let mut out = Vec::new();
    for (l, &(gh, gw)) in grids.iter().enumerate() {
        let stride = 16.0 * f64::from(1u32 << l);
        let shapes = anchor_shapes(l);
        for r in 0..gh {
            for c in 0..gw {
                let cy = (r as f64 + 0.5) * stride;
                let cx = (c as f64 + 0.5) * stride;
                for &(s, ar) in &shapes {
                    let hh = s * INPUT_SIZE as f64 / ar.sqrt() / 2.0;
                    let hw = s * INPUT_SIZE as f64 * ar.sqrt() / 2.0;
                    out.push([
                        (cy - hh) as f32,
                        (cx - hw) as f32,
                        (cy + hh) as f32,
                        (cx + hw) as f32,
                    ]);
                }
            }
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::weights;

    #[test]
    fn generated_anchors_equal_the_models_512_anchors() {
        let net = SsdNet::new(
            &weights::load_model(&weights::SSD_MOBILENETV1).expect("weights"),
            &Device::flex(),
        )
        .expect("net");
        let grids = [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)];
        let ours = grid_anchors(&grids);
        assert_eq!(ours.len(), NUM_ANCHORS);
        let worst = ours
            .iter()
            .zip(&net.anchors)
            .flat_map(|(a, b)| (0..4).map(move |k| (a[k] / 512.0 - b[k]).abs()))
            .fold(0f32, f32::max);
        // The model stores its anchors in f32: 4e-5 of 512 px is 0.02 px.
        assert!(worst < 1e-4, "largest anchor difference {worst}");
    }
}
