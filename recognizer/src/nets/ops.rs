//! Building blocks shared by the networks: TensorFlow-style convolutions on burn tensors.

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::RecognizerError;
use crate::weights::{WeightMap, WeightTensor};

/// TensorFlow padding rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// No padding.
    Valid,
    /// TF "SAME": `out = ceil(in / s)`, odd padding at the bottom/right.
    Same,
    /// Symmetric explicit padding on every side.
    Explicit(usize),
}

/// TF SAME padding (before, after) for one dimension.
pub fn same_pad(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s);
    let total = ((out.saturating_sub(1)) * s + k).saturating_sub(n);
    (total / 2, total - total / 2)
}

/// Output size and leading padding of a k×k, stride-`s` convolution over one `h × w` plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneGeometry {
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Padding rows above the input.
    pub top: usize,
    /// Padding columns left of the input.
    pub left: usize,
}

impl PlaneGeometry {
    /// The geometry, or an error when the padded map is smaller than the kernel.
    pub fn new(
        (h, w): (usize, usize),
        k: usize,
        s: usize,
        padding: Padding,
    ) -> Result<Self, RecognizerError> {
        let ((top, bottom), (left, right)) = match padding {
            Padding::Valid => ((0, 0), (0, 0)),
            Padding::Explicit(p) => ((p, p), (p, p)),
            Padding::Same => (same_pad(h, k, s), same_pad(w, k, s)),
        };
        if h + top + bottom < k || w + left + right < k || s == 0 {
            return Err(RecognizerError::Weights(format!(
                "{k}x{k} stride-{s} convolution on a {h}x{w} map"
            )));
        }
        Ok(PlaneGeometry {
            h,
            w,
            oh: (h + top + bottom - k) / s + 1,
            ow: (w + left + right - k) / s + 1,
            top,
            left,
        })
    }

    /// Output positions.
    pub fn positions(&self) -> usize {
        self.oh * self.ow
    }
}

/// A 2-D convolution (regular or depthwise) with optional bias, weights in burn's OIHW layout.
#[derive(Debug, Clone)]
pub struct Conv {
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    kernel: usize,
    stride: usize,
    padding: Padding,
    groups: usize,
    /// Multiply-adds per output pixel (for reporting).
    pub macs_per_pixel: usize,
}

impl Conv {
    /// Runs the convolution on an NCHW tensor.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let pad = match self.padding {
            Padding::Valid => [(0, 0), (0, 0)],
            Padding::Explicit(p) => [(p, p), (p, p)],
            Padding::Same => [
                same_pad(h, self.kernel, self.stride),
                same_pad(w, self.kernel, self.stride),
            ],
        };
        let opts =
            ConvOptions::new_with_padding([self.stride, self.stride], pad, [1, 1], self.groups);
        conv2d(x, self.weight.clone(), self.bias.clone(), opts)
    }

    /// `[O, C / groups, k, k]`.
    pub fn dims(&self) -> [usize; 4] {
        self.weight.dims()
    }

    /// Stride of both dimensions.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The padding rule.
    pub fn padding(&self) -> Padding {
        self.padding
    }

    /// 1 for a regular convolution, the channel count for a depthwise one.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The weights in OIHW order.
    pub fn weight_values(&self) -> Result<Vec<f32>, RecognizerError> {
        to_vec(self.weight.clone())
    }

    /// The bias, if any.
    pub fn bias_values(&self) -> Result<Option<Vec<f32>>, RecognizerError> {
        self.bias.clone().map(to_vec).transpose()
    }
}

/// Builds a tensor from values and a shape.
pub fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Converts a TF HWIO filter `[kh, kw, in, out]` to OIHW values, scaling output channel `o`
/// by `scale[o]` when given (to fold per-channel affine layers into the conv).
fn hwio_to_oihw(
    w: &WeightTensor,
    scale: Option<&[f32]>,
) -> Result<(Vec<f32>, [usize; 4]), RecognizerError> {
    let [kh, kw, ci, co] = shape4(w)?;
    let mut out = vec![0f32; w.values.len()];
    for y in 0..kh {
        for x in 0..kw {
            for i in 0..ci {
                for o in 0..co {
                    let s = scale.map_or(1.0, |s| s[o]);
                    out[((o * ci + i) * kh + y) * kw + x] =
                        w.values[((y * kw + x) * ci + i) * co + o] * s;
                }
            }
        }
    }
    Ok((out, [co, ci, kh, kw]))
}

fn shape4(w: &WeightTensor) -> Result<[usize; 4], RecognizerError> {
    match w.shape.as_slice() {
        &[a, b, c, d] => Ok([a, b, c, d]),
        s => Err(RecognizerError::Weights(format!(
            "expected a 4-D filter, got {s:?}"
        ))),
    }
}

/// Reads a 1-D tensor of length `n`.
pub fn vec1(w: &WeightMap, name: &str, n: usize) -> Result<Vec<f32>, RecognizerError> {
    Ok(w.get_shaped(name, &[n])?.values.clone())
}

/// Options for [`conv_from`].
pub struct ConvSpec<'a> {
    /// Filter name (HWIO, or `[kh, kw, C, 1]` when `depthwise`).
    pub filter: &'a str,
    /// Bias values (already combined), if any.
    pub bias: Option<Vec<f32>>,
    /// Per-output-channel multiplier folded into the filter.
    pub scale: Option<Vec<f32>>,
    /// Stride.
    pub stride: usize,
    /// Padding rule.
    pub padding: Padding,
    /// Depthwise (groups = channels) instead of regular.
    pub depthwise: bool,
}

/// Builds a [`Conv`] from the weight map.
pub fn conv_from(
    w: &WeightMap,
    spec: ConvSpec<'_>,
    device: &Device,
) -> Result<Conv, RecognizerError> {
    let f = w.get(spec.filter)?;
    let [kh, kw, c, m] = shape4(f)?;
    if kh != kw {
        return Err(RecognizerError::Weights(format!(
            "non-square filter {}",
            spec.filter
        )));
    }
    let (values, shape, groups, out_ch, macs) = if spec.depthwise {
        if m != 1 {
            return Err(RecognizerError::Weights(format!(
                "depth multiplier {m} in {}",
                spec.filter
            )));
        }
        // [kh, kw, C, 1] -> [C, 1, kh, kw]
        let mut v = vec![0f32; f.values.len()];
        for y in 0..kh {
            for x in 0..kw {
                for ch in 0..c {
                    let s = spec.scale.as_ref().map_or(1.0, |s| s[ch]);
                    v[(ch * kh + y) * kw + x] = f.values[(y * kw + x) * c + ch] * s;
                }
            }
        }
        (v, [c, 1, kh, kw], c, c, kh * kw * c)
    } else {
        let (v, shape) = hwio_to_oihw(f, spec.scale.as_deref())?;
        (v, shape, 1, m, kh * kw * c * m)
    };
    if let Some(b) = &spec.bias
        && b.len() != out_ch
    {
        return Err(RecognizerError::Weights(format!(
            "bias of {} has {} values, expected {out_ch}",
            spec.filter,
            b.len()
        )));
    }
    Ok(Conv {
        weight: tensor(values, shape, device),
        bias: spec.bias.map(|b| {
            let n = b.len();
            tensor(b, [n], device)
        }),
        kernel: kh,
        stride: spec.stride,
        padding: spec.padding,
        groups,
        macs_per_pixel: macs,
    })
}

/// Reads an NCHW tensor back as a flat vector.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, RecognizerError> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| RecognizerError::Weights(format!("tensor read-back failed: {e:?}")))
}

/// k×k max-pool, stride `s`, VALID, as a host loop over the NCHW planes (flex's pooling is a
/// generic windowed loop with index tracking; this is several times faster).
pub fn max_pool_valid(x: Tensor<4>, k: usize, s: usize) -> Result<Tensor<4>, RecognizerError> {
    let [n, c, h, w] = x.dims();
    if h < k || w < k {
        return Err(RecognizerError::Weights(format!(
            "max-pool {k}x{k} on a {h}x{w} map"
        )));
    }
    let device = x.device();
    let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
    let v = to_vec(x)?;
    let mut out = vec![f32::NEG_INFINITY; n * c * oh * ow];
    for (src, dst) in v.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow)) {
        for oy in 0..oh {
            let d = &mut dst[oy * ow..(oy + 1) * ow];
            for ky in 0..k {
                let row = &src[(oy * s + ky) * w..(oy * s + ky + 1) * w];
                for (ox, o) in d.iter_mut().enumerate() {
                    for kx in 0..k {
                        *o = o.max(row[ox * s + kx]);
                    }
                }
            }
        }
    }
    Ok(tensor(out, [n, c, oh, ow], &device))
}
