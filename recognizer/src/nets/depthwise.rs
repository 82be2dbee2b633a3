//! Depthwise convolution (one filter per channel) with bias and activation, row by row.
//!
//! MobileNet's depthwise layers do few multiply-adds per byte, so their speed is memory
//! traffic: flex's generic kernel (zero-fill, accumulate plane by plane, then separate bias and
//! clamp passes) ran the 64-channel 576×336 layer of a 1080p frame's fine level at ~3 GFLOP/s.
//! Here each output row is built once in L1 from the `k` input rows it needs: bias, `k·k`
//! contiguous multiply-add sweeps (stride-2 rows are first split into even and odd columns so
//! the sweeps stay contiguous), then the activation, then it is stored. Compiled for AVX2+FMA
//! when the CPU has them.

use burn::tensor::Tensor;

use super::fused::{Activation, with_scratch};
use super::ops::{Conv, Padding, PlaneGeometry, tensor, to_vec};
use crate::error::RecognizerError;

/// A depthwise convolution (`groups = channels`, stride 1 or 2) with bias and activation.
#[derive(Debug, Clone)]
pub struct Depthwise {
    /// `[C, k, k]`.
    weight: Vec<f32>,
    bias: Vec<f32>,
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    act: Activation,
}

type Geometry = PlaneGeometry;

impl Depthwise {
    /// Takes the weights, bias (or zeros) and padding of a depthwise [`Conv`].
    pub fn from_conv(conv: &Conv, act: Activation) -> Result<Self, RecognizerError> {
        let [c, per_group, k, k2] = conv.dims();
        if per_group != 1 || conv.groups() != c || k != k2 || !(1..=2).contains(&conv.stride()) {
            return Err(RecognizerError::Weights(format!(
                "a depthwise layer needs groups = channels, a square kernel and stride 1 or 2 \
                 (got {c} channels in {} groups, {k}x{k2}, stride {})",
                conv.groups(),
                conv.stride()
            )));
        }
        Ok(Self {
            weight: conv.weight_values()?,
            bias: conv.bias_values()?.unwrap_or_else(|| vec![0.0; c]),
            channels: c,
            kernel: k,
            stride: conv.stride(),
            padding: conv.padding(),
            act,
        })
    }

    fn geometry(&self, h: usize, w: usize) -> Result<Geometry, RecognizerError> {
        PlaneGeometry::new((h, w), self.kernel, self.stride, self.padding)
    }

    /// Runs on an NCHW tensor of `C` channels.
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>, RecognizerError> {
        let [n, c, h, w] = x.dims();
        if n * h * w == 0 {
            return Err(RecognizerError::Weights(format!(
                "depthwise layer got an empty {n}x{c}x{h}x{w} input"
            )));
        }
        if c != self.channels {
            return Err(RecognizerError::Weights(format!(
                "depthwise layer of {} channels got {c}",
                self.channels
            )));
        }
        let g = self.geometry(h, w)?;
        let device = x.device();
        let input = to_vec(x)?;
        let mut out = Vec::with_capacity(n * c * g.oh * g.ow);
        self.run(&input, &mut out, g);
        Ok(tensor(out, [n, c, g.oh, g.ow], &device))
    }

    fn run(&self, input: &[f32], out: &mut Vec<f32>, g: Geometry) {
        // Stride 2: each input row split into its even then its odd columns, once per plane.
        let split_len = if self.stride == 2 { g.h * g.w } else { 0 };
        with_scratch(split_len, |split| {
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU features the function is compiled for were just detected.
                    unsafe { self.run_avx2(input, out, g, split) };
                    return;
                }
            }
            self.planes(input, out, g, split);
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, input: &[f32], out: &mut Vec<f32>, g: Geometry, split: &mut [f32]) {
        self.planes(input, out, g, split);
    }

    /// Appends every output plane to `out`; `split` holds one split plane (stride 2).
    #[inline(always)]
    fn planes(&self, input: &[f32], out: &mut Vec<f32>, g: Geometry, split: &mut [f32]) {
        let (k, c) = (self.kernel, self.channels);
        let half = g.w.div_ceil(2);
        // Each output row is built here in L1, then appended to `out` (no zero-fill).
        let mut row = vec![0f32; g.ow];
        for (p, src) in input.chunks_exact(g.h * g.w).enumerate() {
            let ch = p % c;
            let filter = &self.weight[ch * k * k..(ch + 1) * k * k];
            let rows = if self.stride == 2 {
                for (irow, srow) in src.chunks_exact(g.w).zip(split.chunks_exact_mut(g.w)) {
                    deinterleave(irow, srow, half);
                }
                &*split
            } else {
                src
            };
            // Tap (iy, kx) as (source row, shift): output column o reads source[o + shift].
            let tap = |iy: usize, kx: usize| -> (&[f32], isize) {
                let irow = &rows[iy * g.w..(iy + 1) * g.w];
                let d = kx as isize - g.left as isize;
                if self.stride == 1 {
                    (irow, d)
                } else if d.rem_euclid(2) == 0 {
                    // Input column 2·ox + d: even[ox + d/2] or odd[ox + (d-1)/2].
                    (&irow[..half], d.div_euclid(2))
                } else {
                    (&irow[half..], (d - 1).div_euclid(2))
                }
            };
            for oy in 0..g.oh {
                let input_rows = (0..k).filter_map(|ky| {
                    let iy = (oy * self.stride + ky).checked_sub(g.top)?;
                    (iy < g.h).then_some((ky, iy))
                });
                let mut taps: [(&[f32], isize, f32); 9] = [(&[], 0, 0.0); 9];
                let mut count = 0;
                row.fill(self.bias[ch]);
                for (ky, iy) in input_rows {
                    for kx in 0..k {
                        let (src, shift) = tap(iy, kx);
                        let wt = filter[ky * k + kx];
                        if k == 3 {
                            taps[count] = (src, shift, wt);
                            count += 1;
                        } else {
                            sweep(&mut row, src, shift, wt);
                        }
                    }
                }
                if count == 9 {
                    row3x3(&mut row, &taps, self.bias[ch]);
                } else {
                    for &(src, shift, wt) in &taps[..count] {
                        sweep(&mut row, src, shift, wt);
                    }
                }
                activate(&mut row, self.act);
                out.extend_from_slice(&row);
            }
        }
    }
}

/// One output row of a 3×3 filter with all three input rows present: the nine products
/// accumulate in registers, eight columns at a time, and the row is stored once. Columns
/// where a tap falls in the left/right padding are summed one by one.
#[inline(always)]
fn row3x3(row: &mut [f32], taps: &[(&[f32], isize, f32); 9], bias: f32) {
    let width = row.len();
    // Columns where every tap is inside its source row.
    let lo = taps
        .iter()
        .map(|&(_, shift, _)| (-shift).max(0) as usize)
        .max()
        .unwrap_or(0)
        .min(width);
    let hi = taps
        .iter()
        .map(|&(src, shift, _)| (src.len() as isize - shift).clamp(0, width as isize) as usize)
        .min()
        .unwrap_or(0)
        .max(lo);
    let n = hi - lo;
    let src: [&[f32]; 9] = std::array::from_fn(|t| {
        let (s, shift, _) = taps[t];
        let from = (lo as isize + shift) as usize;
        &s[from..from + n]
    });
    let wt: [f32; 9] = std::array::from_fn(|t| taps[t].2);
    let mut b = 0;
    while b + 8 <= n {
        let mut acc = [bias; 8];
        for t in 0..9 {
            let s = &src[t][b..b + 8];
            for j in 0..8 {
                acc[j] = s[j].mul_add(wt[t], acc[j]);
            }
        }
        row[lo + b..lo + b + 8].copy_from_slice(&acc);
        b += 8;
    }
    for i in b..n {
        let mut a = bias;
        for t in 0..9 {
            a = src[t][i].mul_add(wt[t], a);
        }
        row[lo + i] = a;
    }
    for o in (0..lo).chain(hi..width) {
        let mut a = bias;
        for &(s, shift, w) in taps {
            let ix = o as isize + shift;
            if ix >= 0 && (ix as usize) < s.len() {
                a = s[ix as usize].mul_add(w, a);
            }
        }
        row[o] = a;
    }
}

/// Writes the even columns of `row` then its odd columns into `out` (`half` = even count).
#[inline(always)]
fn deinterleave(row: &[f32], out: &mut [f32], half: usize) {
    let (even, odd) = out.split_at_mut(half);
    for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(row.chunks_exact(2)) {
        *e = pair[0];
        *o = pair[1];
    }
    if row.len() % 2 == 1 {
        even[half - 1] = row[row.len() - 1];
    }
}

/// `row[o] += wt · src[o + shift]` wherever `o + shift` is inside `src` (padding is zero).
#[inline(always)]
fn sweep(row: &mut [f32], src: &[f32], shift: isize, wt: f32) {
    let lo = (-shift).max(0) as usize;
    let hi = (src.len() as isize - shift).clamp(0, row.len() as isize) as usize;
    if lo >= hi {
        return;
    }
    let from = (lo as isize + shift) as usize;
    for (o, s) in row[lo..hi].iter_mut().zip(&src[from..from + (hi - lo)]) {
        *o = s.mul_add(wt, *o);
    }
}

#[inline(always)]
fn activate(row: &mut [f32], act: Activation) {
    match act {
        Activation::Identity => {}
        Activation::Relu => row.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Relu6 => row.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nets::ops::{ConvSpec, conv_from};
    use crate::weights::{WeightMap, WeightTensor};
    use burn::tensor::Device;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * 0.37 + seed).sin() * 4.0)
            .collect()
    }

    /// flex's depthwise conv + bias + ReLU6 against ours, for stride 1 and 2, SAME and
    /// VALID padding, odd and even sizes.
    #[test]
    fn equals_flex_depthwise_with_bias_and_relu6() {
        let device = Device::flex();
        let c = 3;
        let mut m = WeightMap::default();
        m.insert(
            "dw",
            WeightTensor {
                shape: vec![3, 3, c, 1],
                values: values(9 * c, 1.1),
            },
        );
        for (h, w) in [(7, 9), (8, 6), (3, 3), (1, 5), (6, 37), (5, 40)] {
            for stride in [1, 2] {
                for padding in [Padding::Same, Padding::Valid, Padding::Explicit(1)] {
                    if padding == Padding::Valid && h.min(w) < 3 {
                        continue;
                    }
                    let spec = ConvSpec {
                        filter: "dw",
                        bias: Some(values(c, 4.0)),
                        scale: None,
                        stride,
                        padding,
                        depthwise: true,
                    };
                    let conv = conv_from(&m, spec, &device).expect("conv");
                    let x = tensor(values(2 * c * h * w, 0.7), [2, c, h, w], &device);
                    let reference = conv.forward(x.clone()).clamp_min(0.0).clamp_max(6.0);
                    let dims = reference.dims();
                    let reference = to_vec(reference).expect("reference");
                    let ours = Depthwise::from_conv(&conv, Activation::Relu6)
                        .expect("depthwise")
                        .forward(x)
                        .expect("forward");
                    assert_eq!(ours.dims(), dims, "{h}x{w} stride {stride} {padding:?}");
                    let ours = to_vec(ours).expect("ours");
                    let worst = ours
                        .iter()
                        .zip(&reference)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f32::max);
                    assert!(worst < 1e-5, "{h}x{w} stride {stride} {padding:?}: {worst}");
                }
            }
        }
    }

    #[test]
    fn rejects_a_regular_conv_and_a_wrong_channel_count() {
        let device = Device::flex();
        let mut m = WeightMap::default();
        m.insert(
            "k",
            WeightTensor {
                shape: vec![3, 3, 2, 4],
                values: values(72, 0.0),
            },
        );
        m.insert(
            "dw",
            WeightTensor {
                shape: vec![3, 3, 2, 1],
                values: values(18, 0.0),
            },
        );
        let spec = |filter, depthwise| ConvSpec {
            filter,
            bias: None,
            scale: None,
            stride: 1,
            padding: Padding::Same,
            depthwise,
        };
        let regular = conv_from(&m, spec("k", false), &device).expect("conv");
        assert!(Depthwise::from_conv(&regular, Activation::Relu6).is_err());
        let dw = conv_from(&m, spec("dw", true), &device).expect("conv");
        let dw = Depthwise::from_conv(&dw, Activation::Relu6).expect("dw");
        let x = tensor(values(3 * 16, 0.0), [1, 3, 4, 4], &device);
        assert!(dw.forward(x).is_err());
        let empty = tensor(Vec::new(), [1, 2, 0, 4], &device);
        assert!(dw.forward(empty).is_err());
    }
}
