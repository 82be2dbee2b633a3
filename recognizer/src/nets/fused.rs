//! Convolutions whose bias and activation are applied in the same pass over the output.
//!
//! burn-flex runs a convolution as separate full passes over its output: a zero-fill of the
//! new buffer, the convolution, the bias add and, for ReLU6, two clamps. On MobileNet's wide
//! early maps (64-128 channels of 576×336 in a 1080p frame's fine level) those extra passes
//! are memory-bound and cost as much as a fifth of the detector's time. Here a 1×1
//! convolution is one `gemm` call (the crate flex itself uses) straight into the output
//! buffer, followed by one bias + activation pass ([`super::depthwise`] does the same for
//! depthwise layers).

use burn::tensor::Tensor;

use super::ops::{Conv, tensor, to_vec};
use crate::error::RecognizerError;

/// The activation applied together with the bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Bias only.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)` (MobileNet).
    Relu6,
}

/// Adds `bias[c]` to every value of channel `c` of NCHW `values` (channel planes of `plane`
/// values; the bias repeats for every image of the batch) and applies `act`, in place.
pub fn bias_act(values: &mut [f32], bias: &[f32], plane: usize, act: Activation) {
    fn run(values: &mut [f32], bias: &[f32], plane: usize, f: impl Fn(f32) -> f32) {
        if plane == 0 || bias.is_empty() {
            return;
        }
        for (chunk, &b) in values.chunks_exact_mut(plane).zip(bias.iter().cycle()) {
            for v in chunk {
                *v = f(*v + b);
            }
        }
    }
    match act {
        Activation::Identity => run(values, bias, plane, |v| v),
        Activation::Relu => run(values, bias, plane, |v| v.max(0.0)),
        Activation::Relu6 => run(values, bias, plane, |v| v.clamp(0.0, 6.0)),
    }
}

/// A 1×1, stride-1 convolution with bias and activation: one matrix product per image,
/// `out[O, H·W] = W[O, C] · x[C, H·W]`, written into an uninitialised buffer.
#[derive(Debug, Clone)]
pub struct Pointwise {
    /// `[O, C]` row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    act: Activation,
}

impl Pointwise {
    /// Takes the weights of a 1×1 stride-1 [`Conv`] (its bias, or zeros).
    pub fn from_conv(conv: &Conv, act: Activation) -> Result<Self, RecognizerError> {
        let [o, c, k, _] = conv.dims();
        if k != 1 || conv.stride() != 1 || conv.groups() != 1 {
            return Err(RecognizerError::Weights(format!(
                "a pointwise layer needs a 1x1 stride-1 conv, got {k}x{k} stride {}",
                conv.stride()
            )));
        }
        Ok(Self {
            weight: conv.weight_values()?,
            bias: conv.bias_values()?.unwrap_or_else(|| vec![0.0; o]),
            inputs: c,
            outputs: o,
            act,
        })
    }

    /// Runs on an NCHW tensor of `C` channels.
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>, RecognizerError> {
        let [n, c, h, w] = x.dims();
        if c != self.inputs {
            return Err(RecognizerError::Weights(format!(
                "pointwise layer of {} inputs got {c} channels",
                self.inputs
            )));
        }
        let device = x.device();
        let input = to_vec(x)?;
        let (hw, o) = (h * w, self.outputs);
        let total = n * o * hw;
        let mut out: Vec<f32> = Vec::with_capacity(total);
        if hw > 0 {
            for b in 0..n {
                // SAFETY: `out` has capacity for `n·O·H·W` values and image `b` writes the
                // `O × H·W` block at `b·O·H·W`; `input` holds `n·C·H·W` values and
                // `weight` `O·C`, read with the row strides given. With `read_dst = false`
                // gemm stores every destination element without reading it, so all
                // `total` values are initialised before `set_len`.
                unsafe {
                    gemm::gemm(
                        o,
                        hw,
                        c,
                        out.as_mut_ptr().add(b * o * hw),
                        1,
                        hw as isize,
                        false,
                        self.weight.as_ptr(),
                        1,
                        c as isize,
                        input.as_ptr().add(b * c * hw),
                        1,
                        hw as isize,
                        0.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
            // SAFETY: every element was written above (n blocks of O·H·W).
            unsafe { out.set_len(total) };
        } else {
            out.resize(total, 0.0);
        }
        bias_act(&mut out, &self.bias, hw, self.act);
        Ok(tensor(out, [n, o, h, w], &device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::ops::{ConvSpec, Padding, conv_from};
    use crate::weights::{WeightMap, WeightTensor};
    use burn::tensor::Device;

    fn weights(filter: (&str, Vec<usize>, Vec<f32>)) -> WeightMap {
        let mut m = WeightMap::default();
        m.insert(
            filter.0,
            WeightTensor {
                shape: filter.1,
                values: filter.2,
            },
        );
        m
    }

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.37 + seed).sin()) * 8.0)
            .collect()
    }

    #[test]
    fn bias_act_adds_the_channel_bias_then_clamps() {
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

    #[test]
    fn pointwise_equals_flex_conv_with_bias_and_relu6() {
        let device = Device::flex();
        let (c, o, h, w) = (5, 7, 6, 9);
        let m = weights(("pw", vec![1, 1, c, o], values(c * o, 0.3)));
        let spec = |filter, depthwise, bias: Vec<f32>, stride| ConvSpec {
            filter,
            bias: Some(bias),
            scale: None,
            stride,
            padding: Padding::Same,
            depthwise,
        };
        let pw = conv_from(&m, spec("pw", false, values(o, 2.0), 1), &device).expect("pw");
        let x = tensor(values(2 * c * h * w, 0.7), [2, c, h, w], &device);
        let reference = to_vec(pw.forward(x.clone()).clamp_min(0.0).clamp_max(6.0)).expect("ref");
        let fused = Pointwise::from_conv(&pw, Activation::Relu6).expect("fused");
        let ours = to_vec(fused.forward(x.clone()).expect("forward")).expect("ours");
        assert_eq!(ours.len(), reference.len());
        assert!(
            ours.iter()
                .zip(&reference)
                .all(|(a, b)| (a - b).abs() < 1e-4)
        );
        assert!(ours.contains(&6.0) && ours.contains(&0.0));
    }

    #[test]
    fn pointwise_rejects_a_spatial_kernel_and_a_wrong_channel_count() {
        let device = Device::flex();
        let m = weights(("k3", vec![3, 3, 2, 4], values(72, 0.0)));
        let spec = ConvSpec {
            filter: "k3",
            bias: None,
            scale: None,
            stride: 1,
            padding: Padding::Same,
            depthwise: false,
        };
        let conv = conv_from(&m, spec, &device).expect("conv");
        assert!(Pointwise::from_conv(&conv, Activation::Relu).is_err());
        let m = weights(("k1", vec![1, 1, 2, 4], values(8, 0.0)));
        let spec = ConvSpec {
            filter: "k1",
            bias: None,
            scale: None,
            stride: 1,
            padding: Padding::Same,
            depthwise: false,
        };
        let pw = Pointwise::from_conv(
            &conv_from(&m, spec, &device).expect("conv"),
            Activation::Relu,
        )
        .expect("pw");
        let x = tensor(values(3 * 16, 0.0), [1, 3, 4, 4], &device);
        assert!(pw.forward(x).is_err());
    }
}
