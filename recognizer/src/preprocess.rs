//! Network input preparation, reproducing face-api's `toBatchTensor`: zero-pad to a square
//! (bottom/right for the detectors, centred for the face nets), TensorFlow's legacy bilinear
//! resize (`alignCorners = false`, `halfPixelCenters = false`), then per-net normalisation.

/// A region of an RGB image (integer pixels, already clipped to the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// How the padded, resized pixel values are normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalize {
    /// `(v - mean[c]) / 255`.
    MeanDiv255([f32; 3]),
    /// `v / 127.5 - 1` (SSD MobileNet).
    Ssd,
    /// No normalisation (pixel values as resized; for tests).
    Raw,
}

/// Mean RGB of the tiny face detector.
pub const TINY_MEAN: [f32; 3] = [117.001, 114.697, 97.404];
/// Mean RGB of the landmark and recognition nets.
pub const FACE_MEAN: [f32; 3] = [122.782, 117.001, 104.298];

impl Normalize {
    /// Normalises one RGB value.
    #[inline]
    pub fn apply(self, v: [f32; 3]) -> [f32; 3] {
        match self {
            Normalize::MeanDiv255(m) => [
                (v[0] - m[0]) / 255.0,
                (v[1] - m[1]) / 255.0,
                (v[2] - m[2]) / 255.0,
            ],
            Normalize::Ssd => [v[0] / 127.5 - 1.0, v[1] / 127.5 - 1.0, v[2] / 127.5 - 1.0],
            Normalize::Raw => v,
        }
    }
}

/// Bilinear mix of the four corner pixels `[top-left, top-right, bottom-left, bottom-right]`
/// (TF's order of operations: along x first, then y).
#[inline]
fn bilerp([tl, tr, bl, br]: [[f32; 3]; 4], fx: f32, fy: f32) -> [f32; 3] {
    std::array::from_fn(|c| {
        let top = tl[c] + (tr[c] - tl[c]) * fx;
        let bottom = bl[c] + (br[c] - bl[c]) * fx;
        top + (bottom - top) * fy
    })
}

/// JS `Math.round` (half rounds up).
pub fn js_round(v: f64) -> f64 {
    (v + 0.5).floor()
}

/// A source of RGB pixels as f32 (the image, or a float test tensor in HWC order).
pub trait PixelSource {
    /// Width in pixels.
    fn width(&self) -> usize;
    /// Height in pixels.
    fn height(&self) -> usize;
    /// RGB of pixel (x, y).
    fn pixel(&self, x: usize, y: usize) -> [f32; 3];
}

/// A rectangular view into an [`image::RgbImage`].
pub struct RgbView<'a> {
    img: &'a image::RgbImage,
    rect: PixelRect,
}

impl<'a> RgbView<'a> {
    /// A view of `rect` (must lie inside the image).
    pub fn new(img: &'a image::RgbImage, rect: PixelRect) -> Self {
        Self { img, rect }
    }
    /// The whole image.
    pub fn full(img: &'a image::RgbImage) -> Self {
        let rect = PixelRect {
            x: 0,
            y: 0,
            width: img.width(),
            height: img.height(),
        };
        Self { img, rect }
    }
}

impl PixelSource for RgbView<'_> {
    fn width(&self) -> usize {
        self.rect.width as usize
    }
    fn height(&self) -> usize {
        self.rect.height as usize
    }
    #[inline]
    fn pixel(&self, x: usize, y: usize) -> [f32; 3] {
        let w = self.img.width() as usize;
        let idx = ((self.rect.y as usize + y) * w + self.rect.x as usize + x) * 3;
        match self.img.as_raw().get(idx..idx + 3) {
            Some(p) => [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])],
            None => [0.0; 3],
        }
    }
}

/// A float HWC tensor as a pixel source (used by the golden-tensor tests).
pub struct HwcF32<'a> {
    /// Values, HWC.
    pub data: &'a [f32],
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

impl PixelSource for HwcF32<'_> {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    fn pixel(&self, x: usize, y: usize) -> [f32; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// Writes the `size × size` normalised CHW input for `src` into `out` (length `3·size²`).
///
/// `center = false` pads at the bottom/right only (detectors); `center = true` splits the
/// padding with the odd pixel at the bottom/right (face nets). An empty source gives a fully
/// padded input.
pub fn prepare_input<S: PixelSource>(
    src: &S,
    size: usize,
    center: bool,
    norm: Normalize,
    out: &mut [f32],
) {
    let (w, h) = (src.width(), src.height());
    let side = w.max(h);
    let diff = w.abs_diff(h);
    let before = if center {
        diff - js_round(diff as f64 / 2.0) as usize
    } else {
        0
    };
    // Offsets of the source inside the padded square.
    let (ox, oy) = if h > w { (before, 0) } else { (0, before) };
    // Padded-square coordinate -> source coordinate (None inside the zero padding).
    let map = |p: usize, o: usize, n: usize| -> Option<usize> {
        if p >= o && p < o + n {
            Some(p - o)
        } else {
            None
        }
    };
    // Per output index: (lo, hi, frac) in padded-square coordinates; identity if no resize.
    let axis: Vec<(usize, usize, f32)> = if side == 0 {
        vec![(0, 0, 0.0); size]
    } else if side == size {
        (0..size).map(|i| (i, i, 0.0)).collect()
    } else {
        // Legacy TF bilinear: src = i * in/out, lo = floor, hi = min(ceil, in-1).
        let scale = side as f32 / size as f32;
        (0..size)
            .map(|i| {
                let s = i as f32 * scale;
                let lo = s.floor();
                let hi = (s.ceil() as usize).min(side - 1);
                (lo as usize, hi, s - lo)
            })
            .collect()
    };
    let xs: Vec<(Option<usize>, Option<usize>, f32)> = axis
        .iter()
        .map(|&(a, b, f)| (map(a, ox, w), map(b, ox, w), f))
        .collect();
    let plane = size * size;
    let (r_out, rest) = out.split_at_mut(plane);
    let (g_out, b_out) = rest.split_at_mut(plane);
    let px = |x: Option<usize>, y: Option<usize>| -> [f32; 3] {
        match (x, y) {
            (Some(x), Some(y)) => src.pixel(x, y),
            _ => [0.0; 3],
        }
    };
    for (i, &(y0, y1, fy)) in axis.iter().enumerate() {
        let (y0, y1) = (map(y0, oy, h), map(y1, oy, h));
        let row = i * size;
        for (j, &(x0, x1, fx)) in xs.iter().enumerate() {
            let tl = px(x0, y0);
            let tr = px(x1, y0);
            let bl = px(x0, y1);
            let br = px(x1, y1);
            let v = norm.apply(bilerp([tl, tr, bl, br], fx, fy));
            r_out[row + j] = v[0];
            g_out[row + j] = v[1];
            b_out[row + j] = v[2];
        }
    }
}

/// A window of a scaled copy of an image, as one detector input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScaledWindow {
    /// Source pixels per scaled pixel (horizontal, vertical).
    pub ratio: (f64, f64),
    /// Top-left of the window in scaled pixels.
    pub origin: (usize, usize),
    /// Scaled pixels of the window that hold image content (the rest is padding).
    pub content: (usize, usize),
    /// Input size (width, height).
    pub input: (usize, usize),
}

/// Writes the CHW input of `window` (bilinear, TF legacy sampling `src = dst·ratio`, as the
/// whole-frame pass) into `out` (length `3·w·h` of `window.input`); pixels outside the content
/// get the padding value 0 before normalisation, as face-api's bottom/right padding.
pub fn prepare_window<S: PixelSource>(
    src: &S,
    window: &ScaledWindow,
    norm: Normalize,
    out: &mut [f32],
) {
    let (in_w, in_h) = window.input;
    let (sw, sh) = (src.width(), src.height());
    let axis = |n_in: usize, content: usize, origin: usize, ratio: f64, limit: usize| {
        (0..n_in)
            .map(|i| {
                if i >= content || limit == 0 {
                    return None;
                }
                let s = (origin + i) as f64 * ratio;
                let lo = (s.floor() as usize).min(limit - 1);
                let hi = (s.ceil() as usize).min(limit - 1);
                Some((lo, hi, (s - s.floor()) as f32))
            })
            .collect::<Vec<_>>()
    };
    let xs = axis(in_w, window.content.0, window.origin.0, window.ratio.0, sw);
    let ys = axis(in_h, window.content.1, window.origin.1, window.ratio.1, sh);
    let plane = in_w * in_h;
    let (r_out, rest) = out.split_at_mut(plane);
    let (g_out, b_out) = rest.split_at_mut(plane);
    let pad = norm.apply([0.0; 3]);
    for (i, y) in ys.iter().enumerate() {
        let row = i * in_w;
        for (j, x) in xs.iter().enumerate() {
            let v = match (x, y) {
                (Some((x0, x1, fx)), Some((y0, y1, fy))) => {
                    let (tl, tr) = (src.pixel(*x0, *y0), src.pixel(*x1, *y0));
                    let (bl, br) = (src.pixel(*x0, *y1), src.pixel(*x1, *y1));
                    norm.apply(bilerp([tl, tr, bl, br], *fx, *fy))
                }
                _ => pad,
            };
            r_out[row + j] = v[0];
            g_out[row + j] = v[1];
            b_out[row + j] = v[2];
        }
    }
}

/// Clips a float box (x, y, w, h) to a `img_w × img_h` image and floors it, as face-api's
/// `extractFaceTensors` does. Returns `None` when nothing is left.
pub fn clip_floor(x: f32, y: f32, w: f32, h: f32, img_w: u32, img_h: u32) -> Option<PixelRect> {
    let (x, y, w, h) = (f64::from(x), f64::from(y), f64::from(w), f64::from(h));
    let (iw, ih) = (f64::from(img_w), f64::from(img_h));
    let cx = x.max(0.0);
    let cy = y.max(0.0);
    let cw = (x + w - cx).min(iw - cx);
    let ch = (y + h - cy).min(ih - cy);
    let (fx, fy, fw, fh) = (cx.floor(), cy.floor(), cw.floor(), ch.floor());
    if !(fx.is_finite() && fy.is_finite() && fw.is_finite() && fh.is_finite()) {
        return None;
    }
    if fw < 1.0 || fh < 1.0 || fx >= iw || fy >= ih {
        return None;
    }
    let fw = fw.min(iw - fx);
    let fh = fh.min(ih - fy);
    Some(PixelRect {
        x: fx as u32,
        y: fy as u32,
        width: fw as u32,
        height: fh as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_round_is_half_up() {
        assert_eq!(js_round(292.5), 293.0);
        assert_eq!(js_round(2.5), 3.0);
        assert_eq!(js_round(2.4), 2.0);
    }

    #[test]
    fn clip_floor_matches_face_api() {
        let r = clip_floor(-7.3, 10.6, 50.0, 40.0, 100, 100).expect("rect");
        assert_eq!(
            r,
            PixelRect {
                x: 0,
                y: 10,
                width: 42,
                height: 40
            }
        );
        assert!(clip_floor(200.0, 0.0, 10.0, 10.0, 100, 100).is_none());
    }

    #[test]
    fn centred_padding_puts_odd_pixel_bottom_right() {
        // 1 wide, 4 high, all 255: square side 4, diff 3, after = round(1.5)=2, before = 1.
        let data = vec![255f32; 4 * 3];
        let src = HwcF32 {
            data: &data,
            width: 1,
            height: 4,
        };
        let mut out = vec![0f32; 3 * 16];
        prepare_input(&src, 4, true, Normalize::MeanDiv255([0.0; 3]), &mut out);
        let row0: Vec<f32> = out[0..4].to_vec();
        assert_eq!(row0, vec![0.0, 1.0, 0.0, 0.0]);
    }
}
