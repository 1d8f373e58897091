//! Scan-line filling of closed pixel polygons (the LIDC readers' per-slice nodule contours).
//!
//! A contour is a closed polygon through pixel coordinates `(x, y)` (column, row; the last
//! point joins the first). Its fill is every pixel whose centre lies inside the polygon
//! (even-odd rule, edges half-open in y so that a vertex on a scan line is counted once) plus
//! every pixel of the outline itself (the edges rasterised with Bresenham's line): the LIDC
//! edge maps mark the nodule's boundary pixels, so the boundary belongs to the nodule, and a
//! one-point contour (a nodule under 3 mm) fills its pixel. Pixels outside the image are
//! dropped; nothing panics on any input.
use ndarray::ArrayViewMut2;

/// Fills `polygon` (pixel `(x, y)` points) into `image` (`[y, x]`) with `value`.
pub fn fill_polygon(image: &mut ArrayViewMut2<'_, u8>, polygon: &[(i64, i64)], value: u8) {
    let (h, w) = (image.shape()[0] as i64, image.shape()[1] as i64);
    if polygon.is_empty() || h == 0 || w == 0 {
        return;
    }
    let mut set = |x: i64, y: i64| {
        if (0..w).contains(&x) && (0..h).contains(&y) {
            image[[y as usize, x as usize]] = value;
        }
    };
    // Interior: pixel centres (integers) strictly by the even-odd rule, per scan line.
    let ymin = polygon.iter().map(|p| p.1).min().expect("non-empty").max(0);
    let ymax = polygon.iter().map(|p| p.1).max().expect("non-empty").min(h - 1);
    let n = polygon.len();
    let mut xs: Vec<f64> = Vec::new();
    for y in ymin..=ymax {
        xs.clear();
        for i in 0..n {
            let (a, b) = (polygon[i], polygon[(i + 1) % n]);
            let (lo, hi) = if a.1 <= b.1 { (a, b) } else { (b, a) };
            // Half-open [lo.y, hi.y): horizontal edges never cross, shared vertices count once.
            if lo.1 <= y && y < hi.1 {
                let t = (y - lo.1) as f64 / (hi.1 - lo.1) as f64;
                xs.push(lo.0 as f64 + t * (hi.0 - lo.0) as f64);
            }
        }
        xs.sort_by(|a, b| a.total_cmp(b));
        for pair in xs.chunks_exact(2) {
            let x0 = pair[0].ceil().max(0.0) as i64;
            let x1 = pair[1].floor().min((w - 1) as f64) as i64;
            for x in x0..=x1 {
                set(x, y);
            }
        }
    }
    // Outline.
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + 1) % n]);
        line(a, b, &mut set);
    }
}

/// Fills the contours of one slice, `(inclusion, points)`: the inclusions first, then the
/// exclusions cut out. Returns the filled pixels `(x, y)`, only those inside `[0, w) x [0, h)`
/// when `bounds = Some((w, h))`.
pub fn fill_contours(contours: &[(bool, &[(i64, i64)])], bounds: Option<(i64, i64)>) -> Vec<(i64, i64)> {
    let pts = contours.iter().flat_map(|c| c.1.iter());
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for &(x, y) in pts {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    if let Some((w, h)) = bounds {
        (x0, y0, x1, y1) = (x0.max(0), y0.max(0), x1.min(w - 1), y1.min(h - 1));
    }
    if x0 > x1 || y0 > y1 {
        return Vec::new();
    }
    let mut buf = ndarray::Array2::<u8>::zeros(((y1 - y0 + 1) as usize, (x1 - x0 + 1) as usize));
    for pass in [true, false] {
        for (_, points) in contours.iter().filter(|c| c.0 == pass) {
            let shifted: Vec<(i64, i64)> = points.iter().map(|&(x, y)| (x - x0, y - y0)).collect();
            fill_polygon(&mut buf.view_mut(), &shifted, u8::from(pass));
        }
    }
    buf.indexed_iter().filter(|(_, &v)| v != 0).map(|((y, x), _)| (x as i64 + x0, y as i64 + y0)).collect()
}

/// Bresenham's line from `a` to `b`, both ends included.
fn line(a: (i64, i64), b: (i64, i64), set: &mut impl FnMut(i64, i64)) {
    let (mut x, mut y) = a;
    let (dx, dy) = ((b.0 - a.0).abs(), -(b.1 - a.1).abs());
    let (sx, sy) = (if a.0 < b.0 { 1 } else { -1 }, if a.1 < b.1 { 1 } else { -1 });
    let mut err = dx + dy;
    loop {
        set(x, y);
        if (x, y) == b {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use proptest::prelude::*;

    fn filled(h: usize, w: usize, polys: &[&[(i64, i64)]]) -> Array2<u8> {
        let mut img = Array2::<u8>::zeros((h, w));
        for p in polys {
            fill_polygon(&mut img.view_mut(), p, 1);
        }
        img
    }

    fn area(img: &Array2<u8>) -> usize {
        img.iter().filter(|&&v| v != 0).count()
    }

    #[test]
    fn squares_triangles_and_points() {
        // A 4x4 square through pixel centres 2..=6 covers 5 x 5 pixels, outline included.
        let img = filled(10, 10, &[&[(2, 2), (6, 2), (6, 6), (2, 6)]]);
        assert_eq!(area(&img), 25);
        assert_eq!(img[[2, 2]], 1);
        assert_eq!(img[[6, 6]], 1);
        assert_eq!(img[[1, 2]], 0);
        assert_eq!(img[[7, 6]], 0);
        // Right triangle with legs of 6 pixels: rows 0..=6 hold 7, 6, ..., 1 pixels.
        let img = filled(10, 10, &[&[(0, 0), (6, 0), (0, 6)]]);
        assert_eq!(area(&img), 28);
        for y in 0..7 {
            assert_eq!(img.row(y).iter().filter(|&&v| v != 0).count(), 7 - y, "row {y}");
        }
        // One point, and a two-point "polygon" (a segment).
        assert_eq!(area(&filled(5, 5, &[&[(3, 1)]])), 1);
        assert_eq!(area(&filled(5, 5, &[&[(0, 2), (4, 2)]])), 5);
    }

    #[test]
    fn concave_shapes_and_holes() {
        // A U: outer 0..=8 square minus the notch x in 3..=5, y in 0..=5 (open at the top).
        let u = [(0, 0), (2, 0), (2, 6), (6, 6), (6, 0), (8, 0), (8, 8), (0, 8)];
        let img = filled(9, 9, &[&u]);
        assert_eq!(img[[3, 4]], 0, "the notch is outside");
        assert_eq!(img[[7, 4]], 1);
        assert_eq!(area(&img), 81 - 3 * 6);
        // A hole is an exclusion contour: fill the outer, clear the inner.
        let mut img = filled(12, 12, &[&[(1, 1), (10, 1), (10, 10), (1, 10)]]);
        fill_polygon(&mut img.view_mut(), &[(4, 4), (7, 4), (7, 7), (4, 7)], 0);
        assert_eq!(area(&img), 100 - 16);
        assert_eq!(img[[5, 5]], 0);
        assert_eq!(img[[3, 3]], 1);
    }

    #[test]
    fn touching_polygons_and_image_edges() {
        // Two squares sharing the edge x = 4: the union has no gap and no double count.
        let img = filled(8, 10, &[&[(0, 0), (4, 0), (4, 4), (0, 4)], &[(4, 0), (8, 0), (8, 4), (4, 4)]]);
        assert_eq!(area(&img), 9 * 5);
        // A polygon running off the image is clipped, not a panic.
        let img = filled(6, 6, &[&[(-3, -3), (8, -3), (8, 8), (-3, 8)]]);
        assert_eq!(area(&img), 36);
        let img = filled(6, 6, &[&[(3, 3), (20, 3), (20, 20)]]);
        assert!(area(&img) > 0);
        assert_eq!(img[[3, 3]], 1);
        let img = filled(6, 6, &[&[(-10, -10), (-5, -10), (-5, -5)]]);
        assert_eq!(area(&img), 0);
    }

    fn inside_even_odd(p: &[(i64, i64)], x: f64, y: f64) -> bool {
        let mut c = false;
        for i in 0..p.len() {
            let (a, b) = (p[i], p[(i + 1) % p.len()]);
            let (ax, ay, bx, by) = (a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64);
            if (ay > y) != (by > y) && x < (bx - ax) * (y - ay) / (by - ay) + ax {
                c = !c;
            }
        }
        c
    }

    proptest! {
        /// Star-shaped random polygons: every pixel whose centre is inside (by a ray cast
        /// shifted off the pixel grid, so no ties) is filled, and every filled pixel is inside
        /// or within one pixel of the outline.
        #[test]
        fn matches_point_in_polygon(radii in proptest::collection::vec(2.0f64..14.0, 5..24), cx in 10i64..20, cy in 10i64..20) {
            let n = radii.len();
            let poly: Vec<(i64, i64)> = radii.iter().enumerate().map(|(i, r)| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                (cx + (r * t.cos()).round() as i64, cy + (r * t.sin()).round() as i64)
            }).collect();
            let img = filled(32, 32, &[&poly]);
            for y in 0..32i64 {
                for x in 0..32i64 {
                    let eps = 1e-7;
                    let inside = inside_even_odd(&poly, x as f64 + eps, y as f64 + 2.0 * eps);
                    if inside {
                        prop_assert_eq!(img[[y as usize, x as usize]], 1, "inside pixel ({}, {}) not filled", x, y);
                    }
                    if img[[y as usize, x as usize]] == 1 && !inside {
                        // Then the pixel is on the outline: some edge passes within one pixel.
                        let near = (0..n).any(|i| {
                            let (a, b) = (poly[i], poly[(i + 1) % n]);
                            let (px, py) = (x as f64, y as f64);
                            let (ax, ay, bx, by) = (a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64);
                            let l2 = (bx - ax).powi(2) + (by - ay).powi(2);
                            let t = if l2 == 0.0 { 0.0 } else { (((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / l2).clamp(0.0, 1.0) };
                            ((ax + t * (bx - ax) - px).powi(2) + (ay + t * (by - ay) - py).powi(2)).sqrt() <= 1.0
                        });
                        prop_assert!(near, "pixel ({}, {}) filled far from the outline", x, y);
                    }
                }
            }
        }
    }
}
