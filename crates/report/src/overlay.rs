//! A slice of a scan with the outlines of a mask drawn on it, as a PNG: what `iw segment
//! --overlay-png` writes for a quick look at what was found.
use crate::error::{Error, Result};
use ndarray::ArrayView2;
use std::path::Path;

/// The outline colour (RGB).
pub const OUTLINE: [u8; 3] = [255, 40, 40];

/// Whether pixel `(r, c)` of `mask` is on its outline: inside, with a 4-neighbour outside the
/// mask or the slice.
pub fn on_outline(mask: ArrayView2<'_, u8>, r: usize, c: usize) -> bool {
    let (h, w) = mask.dim();
    if mask[[r, c]] == 0 {
        return false;
    }
    r == 0
        || c == 0
        || r + 1 == h
        || c + 1 == w
        || [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)].iter().any(|&p| mask[p] == 0)
}

/// The RGB PNG of `image` (rows x columns; grey from its 1st to 99th percentile, so a few
/// extreme voxels do not wash it out) with the outline of `mask` (same shape, non-zero inside)
/// in [`OUTLINE`]; `text` goes into tEXt chunks (key, value).
pub fn slice_png(image: ArrayView2<'_, f32>, mask: ArrayView2<'_, u8>, text: &[(&str, String)]) -> Result<Vec<u8>> {
    if image.dim() != mask.dim() {
        return Err(Error::format(
            Path::new("<overlay>"),
            format!("image slice {:?} and mask slice {:?} differ", image.dim(), mask.dim()),
        ));
    }
    let (h, w) = image.dim();
    let mut v: Vec<f32> = image.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f32::total_cmp);
    let (lo, hi) = match v.len() {
        0 => (0.0, 1.0),
        n => (v[n / 100], v[(n - 1) * 99 / 100]),
    };
    let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
    let mut rgb = Vec::with_capacity(h * w * 3);
    for r in 0..h {
        for c in 0..w {
            if on_outline(mask, r, c) {
                rgb.extend_from_slice(&OUTLINE);
            } else {
                let g = ((image[[r, c]] - lo) * scale).clamp(0.0, 255.0) as u8;
                rgb.extend_from_slice(&[g, g, g]);
            }
        }
    }
    let bad = |e: png::EncodingError| Error::format(Path::new("<overlay>"), format!("encoding the PNG: {e}"));
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (k, t) in text {
            enc.add_text_chunk(k.to_string(), t.clone()).map_err(bad)?;
        }
        let mut wr = enc.write_header().map_err(bad)?;
        wr.write_image_data(&rgb).map_err(bad)?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn outline_pixels_are_red_and_the_rest_grey() {
        let image = Array2::from_shape_fn((6, 7), |(r, c)| (r * 7 + c) as f32);
        let mut mask = Array2::<u8>::zeros((6, 7));
        mask.slice_mut(ndarray::s![1..5, 2..6]).fill(1);
        let png = slice_png(image.view(), mask.view(), &[("iw:slice_z", "3".into())]).unwrap();
        let dec = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        reader.next_frame(&mut buf).unwrap();
        let text = &reader.info().uncompressed_latin1_text;
        assert_eq!((text[0].keyword.as_str(), text[0].text.as_str()), ("iw:slice_z", "3"));
        for r in 0..6 {
            for c in 0..7 {
                let px = &buf[(r * 7 + c) * 3..(r * 7 + c) * 3 + 3];
                // The 4 x 4 square's inside 2 x 2 stays grey.
                let edge = mask[[r, c]] == 1 && !((2..4).contains(&r) && (3..5).contains(&c));
                assert_eq!(px == OUTLINE, edge, "({r}, {c}): {px:?}");
                if !edge {
                    assert!(px[0] == px[1] && px[1] == px[2]);
                }
            }
        }
    }
}
