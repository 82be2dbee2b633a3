//! Regular convolutions as `gemm` calls with the bias and activation applied in the same pass.
//!
//! burn-flex runs a convolution as separate full passes over its output: a zero-fill of the
//! new buffer, the convolution, the bias add and, for ReLU6, two clamps; for a k×k kernel it
//! also converts the input to NHWC and re-lays the weights out on every call. On MobileNet's
//! wide early maps (64-128 channels of 576×336 in a 1080p frame's fine level) the extra
//! passes are memory-bound and cost as much as a fifth of the detector's time.
//!
//! [`GemmConv`] computes `out[O, P] = W[O, C·k·k] · cols[C·k·k, P]` per image with the `gemm`
//! crate (the one flex itself uses) straight into the output buffer, then adds the bias and
//! applies the activation in one pass. A 1×1 stride-1 layer reads its NCHW input as `cols`
//! directly; other kernels build `cols` (im2col) band by band of output positions, so the
//! band stays in cache between being written and multiplied. [`super::depthwise`] does the
//! same for depthwise layers.

use burn::tensor::{Device, Tensor};

use super::ops::{Conv, Padding, PlaneGeometry, tensor, to_vec};
use crate::error::RecognizerError;

/// Values of one im2col band (`C·k·k` rows × band positions): ~1 MiB, a core's L2.
const BAND_VALUES: usize = 256 * 1024;
/// The narrowest band, so that each `gemm` call stays efficient on deep layers.
const MIN_BAND: usize = 256;

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

/// A regular (groups = 1) square convolution with bias and activation, run as `gemm`.
#[derive(Debug, Clone)]
pub struct GemmConv {
    /// `[O, C·k·k]` row-major (OIHW flattened).
    weight: Vec<f32>,
    bias: Vec<f32>,
    act: Activation,
    out_channels: usize,
    in_channels: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
}

type Geometry = PlaneGeometry;

impl GemmConv {
    /// Takes the weights, bias (or zeros), stride and padding of a regular [`Conv`].
    pub fn from_conv(conv: &Conv, act: Activation) -> Result<Self, RecognizerError> {
        let [o, c, kh, kw] = conv.dims();
        if conv.groups() != 1 || kh != kw {
            return Err(RecognizerError::Weights(format!(
                "a gemm conv needs a regular square kernel, got {kh}x{kw} in {} groups",
                conv.groups()
            )));
        }
        Ok(Self {
            weight: conv.weight_values()?,
            bias: conv.bias_values()?.unwrap_or_else(|| vec![0.0; o]),
            act,
            out_channels: o,
            in_channels: c,
            kernel: kh,
            stride: conv.stride(),
            padding: conv.padding(),
        })
    }

    fn geometry(&self, h: usize, w: usize) -> Result<Geometry, RecognizerError> {
        PlaneGeometry::new((h, w), self.kernel, self.stride, self.padding)
    }

    /// Runs on an NCHW tensor.
    pub fn forward(&self, x: Tensor<4>) -> Result<Tensor<4>, RecognizerError> {
        let [n, c, h, w] = x.dims();
        let device = x.device();
        let input = to_vec(x)?;
        self.forward_host(&input, [n, c, h, w], &device)
    }

    /// Runs on `n` CHW images held on the host (`input.len() = n·C·h·w`).
    pub fn forward_host(
        &self,
        input: &[f32],
        [n, c, h, w]: [usize; 4],
        device: &Device,
    ) -> Result<Tensor<4>, RecognizerError> {
        if c != self.in_channels || input.len() != n * c * h * w || input.is_empty() {
            return Err(RecognizerError::Weights(format!(
                "convolution of {} input channels got {} values for {n}x{c}x{h}x{w}",
                self.in_channels,
                input.len()
            )));
        }
        let g = self.geometry(h, w)?;
        let (o, p) = (self.out_channels, g.positions());
        let rows = c * self.kernel * self.kernel;
        let mut out: Vec<f32> = Vec::with_capacity(n * o * p);
        let direct = self.kernel == 1 && self.stride == 1 && g.top == 0 && g.left == 0;
        let band = (BAND_VALUES / rows.max(1)).max(MIN_BAND).min(p.max(1));
        with_scratch(if direct { 0 } else { rows * band }, |cols| {
            self.products(input, [n, c, h, w], g, (direct, band), cols, &mut out);
        });
        // SAFETY: `products` wrote every one of the `n·O·P` values: per image, either one
        // product over all P positions or bands covering `0..P`.
        unsafe { out.set_len(n * o * p) };
        bias_act(&mut out, &self.bias, p, self.act);
        Ok(tensor(out, [n, o, g.oh, g.ow], device))
    }

    /// Writes the `n` images' products into `out`'s capacity (`n·O·P` values), through
    /// `cols` (`C·k·k × band` values) unless the layer reads its input `direct`ly.
    fn products(
        &self,
        input: &[f32],
        [n, c, h, w]: [usize; 4],
        g: Geometry,
        (direct, band): (bool, usize),
        cols: &mut [f32],
        out: &mut Vec<f32>,
    ) {
        let (o, p) = (self.out_channels, g.positions());
        let rows = c * self.kernel * self.kernel;
        assert!(out.capacity() >= n * o * p, "output buffer too small");
        for (b, image) in input.chunks_exact(c * h * w).take(n).enumerate() {
            let dst = out.spare_capacity_mut()[b * o * p..(b + 1) * o * p]
                .as_mut_ptr()
                .cast();
            if direct {
                // SAFETY: `dst` is this image's `O × P` block of `out`'s capacity; `image` is
                // `C × P` (P = H·W) row-major and `weight` `O × C`.
                unsafe { gemm_into(dst, p, &self.weight, image, (o, p, rows), p) };
                continue;
            }
            for start in (0..p).step_by(band) {
                let len = band.min(p - start);
                let cols = &mut cols[..rows * len];
                self.im2col(image, g, (start, len), cols, len);
                // SAFETY: columns `start..start + len` of this image's `O × P` block (row
                // stride P) lie inside `out`'s capacity; `cols` is `rows × len` row-major.
                unsafe { gemm_into(dst.add(start), p, &self.weight, cols, (o, len, rows), len) };
            }
        }
    }

    /// Fills `cols` (`C·k·k` rows of `len` values, row `r` at `r·cols_rs`) with the input
    /// values that output positions `start..start + len` of one image see, zero where they
    /// fall in the padding.
    fn im2col(
        &self,
        image: &[f32],
        g: Geometry,
        (start, len): (usize, usize),
        cols: &mut [f32],
        cols_rs: usize,
    ) {
        let (k, s) = (self.kernel, self.stride);
        let rows = self.in_channels * k * k;
        for r in 0..rows {
            let row = &mut cols[r * cols_rs..r * cols_rs + len];
            let (ch, ky, kx) = (r / (k * k), r / k % k, r % k);
            let plane = &image[ch * g.h * g.w..(ch + 1) * g.h * g.w];
            let mut pos = start;
            while pos < start + len {
                let (oy, ox0) = (pos / g.ow, pos % g.ow);
                let run = (g.ow - ox0).min(start + len - pos);
                let seg = &mut row[pos - start..pos - start + run];
                match (oy * s + ky).checked_sub(g.top).filter(|iy| *iy < g.h) {
                    None => seg.fill(0.0),
                    Some(iy) => gather(seg, &plane[iy * g.w..(iy + 1) * g.w], ox0, s, kx, g.left),
                }
                pos += run;
            }
        }
    }
}

thread_local! {
    /// Per-thread scratch reused by every layer call (im2col bands, split rows), so the
    /// buffers are neither zero-filled nor faulted in again on each call.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` scratch values of this thread (contents unspecified: `f` must write
/// before it reads).
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        // A nested call (none today) gets a buffer of its own.
        Err(_) => f(&mut vec![0f32; len]),
    })
}

/// `seg[j] = src[(ox0 + j)·s + kx − left]`, zero where that column is outside `src`.
#[inline(always)]
fn gather(seg: &mut [f32], src: &[f32], ox0: usize, s: usize, kx: usize, left: usize) {
    // Output columns whose input column is inside the row: ox·s + kx − left ∈ [0, len).
    let first = left.saturating_sub(kx).div_ceil(s);
    let end = (src.len() + left).saturating_sub(kx).div_ceil(s);
    let lo = first.saturating_sub(ox0).min(seg.len());
    let hi = end.saturating_sub(ox0).clamp(lo, seg.len());
    seg[..lo].fill(0.0);
    seg[hi..].fill(0.0);
    if lo == hi {
        return;
    }
    let from = (ox0 + lo) * s + kx - left;
    if s == 1 {
        seg[lo..hi].copy_from_slice(&src[from..from + (hi - lo)]);
    } else {
        for (v, x) in seg[lo..hi].iter_mut().zip(src[from..].iter().step_by(s)) {
            *v = *x;
        }
    }
}

/// `dst[O × n] (row stride dst_rs) = weight[O × K] · rhs[K × n] (row stride rhs_rs)`, with
/// `(O, n, K)` given, overwriting `dst` without reading it.
///
/// # Safety
/// `dst` must be valid for writes of `O` rows of `n` values at row stride `dst_rs`; `weight`
/// must hold `O·K` and `rhs` `(K - 1)·rhs_rs + n` values.
unsafe fn gemm_into(
    dst: *mut f32,
    dst_rs: usize,
    weight: &[f32],
    rhs: &[f32],
    (o, n, k): (usize, usize, usize),
    rhs_rs: usize,
) {
    debug_assert!(weight.len() >= o * k && (k == 0 || rhs.len() >= (k - 1) * rhs_rs + n));
    // SAFETY: forwarded from the caller; with `read_dst = false` gemm stores every
    // destination element without reading it.
    unsafe {
        gemm::gemm(
            o,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            false,
            weight.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            rhs_rs as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
#[path = "fused_tests.rs"]
mod tests;
