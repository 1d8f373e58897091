//! LIDC-IDRI reader annotations (the XML files of `tcia-lidc-xml/`).
//!
//! One file per CT series: `<LidcReadMessage>` with a `<ResponseHeader>` naming the series
//! (`<SeriesInstanceUid>`) and one `<readingSession>` per radiologist, each holding
//! `<unblindedReadNodule>`s made of per-slice `<roi>`s: `<imageZposition>` (the slice's world z,
//! mm), `<inclusion>` (FALSE: the contour cuts a hole) and the `<edgeMap>` points
//! (`<xCoord>`, `<yCoord>`: pixel column and row). `<nonNodule>` marks and chest X-ray sessions
//! are not nodules and are ignored. Parsed with roxmltree, by local names (the files carry the
//! `http://www.nih.gov` namespace, some older ones none).
use crate::error::{Error, Result};
use std::path::Path;

/// One slice contour of a nodule.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    /// World z of the slice, mm.
    pub z_mm: f64,
    /// `false`: an exclusion (a hole in the nodule).
    pub inclusion: bool,
    /// The contour, pixel `(x, y)`.
    pub points: Vec<(i64, i64)>,
}

/// One reader's nodule.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderNodule {
    /// The reader's own id for it (`noduleID`).
    pub id: String,
    /// Its contours.
    pub rois: Vec<Roi>,
}

/// One reading session (one radiologist).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reader {
    /// `servicingRadiologistID`, when given.
    pub radiologist: String,
    /// The nodules this reader outlined.
    pub nodules: Vec<ReaderNodule>,
}

/// One XML file.
#[derive(Debug, Clone, PartialEq)]
pub struct LidcRead {
    /// The CT series it annotates.
    pub series_uid: String,
    /// Its readers (CT sessions only).
    pub readers: Vec<Reader>,
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'i: 'a>(
    node: roxmltree::Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn text<'a>(node: roxmltree::Node<'a, '_>) -> &'a str {
    node.text().unwrap_or("").trim()
}

/// Parses the text of one LIDC XML file; `path` names it in errors.
pub fn parse_lidc_xml(xml: &str, path: &Path) -> Result<LidcRead> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| Error::format(path, format!("not XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "LidcReadMessage" {
        return Err(Error::format(
            path,
            format!("root element <{}>, expected <LidcReadMessage>", root.tag_name().name()),
        ));
    }
    let series_uid = child(root, "ResponseHeader")
        .and_then(|h| {
            h.children().find(|c| c.is_element() && c.tag_name().name().eq_ignore_ascii_case("SeriesInstanceUid"))
        })
        .map(|n| text(n).to_string())
        .unwrap_or_default();
    let mut readers = Vec::new();
    for session in children(root, "readingSession") {
        let mut reader = Reader {
            radiologist: child(session, "servicingRadiologistID").map(|n| text(n).to_string()).unwrap_or_default(),
            nodules: Vec::new(),
        };
        for nodule in children(session, "unblindedReadNodule") {
            let id = child(nodule, "noduleID").map(|n| text(n).to_string()).unwrap_or_default();
            let mut rois = Vec::new();
            for roi in children(nodule, "roi") {
                let z = child(roi, "imageZposition")
                    .ok_or_else(|| Error::format(path, format!("nodule {id}: <roi> without <imageZposition>")))?;
                let z_mm: f64 = text(z).parse().map_err(|_| {
                    Error::format(path, format!("nodule {id}: imageZposition {:?} is not a number", text(z)))
                })?;
                let inclusion = child(roi, "inclusion").is_none_or(|n| text(n).eq_ignore_ascii_case("true"));
                let mut points = Vec::new();
                for edge in children(roi, "edgeMap") {
                    let coord = |name: &str| -> Result<i64> {
                        let n = child(edge, name)
                            .ok_or_else(|| Error::format(path, format!("nodule {id}: <edgeMap> without <{name}>")))?;
                        let t = text(n);
                        t.parse::<i64>()
                            .or_else(|_| t.parse::<f64>().map(|v| v.round() as i64))
                            .map_err(|_| Error::format(path, format!("nodule {id}: {name} {t:?} is not a number")))
                    };
                    points.push((coord("xCoord")?, coord("yCoord")?));
                }
                if !points.is_empty() {
                    rois.push(Roi { z_mm, inclusion, points });
                }
            }
            if !rois.is_empty() {
                reader.nodules.push(ReaderNodule { id, rois });
            }
        }
        readers.push(reader);
    }
    Ok(LidcRead { series_uid, readers })
}

/// Reads and parses one LIDC XML file.
pub fn read_lidc_xml(path: &Path) -> Result<LidcRead> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    parse_lidc_xml(text.trim_start_matches('\u{feff}'), path)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes an LIDC XML document (as the synthetic datasets ship them).
pub fn to_lidc_xml(read: &LidcRead) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s += "<LidcReadMessage xmlns=\"http://www.nih.gov\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" uid=\"iw-synthetic\">\n";
    s += &format!(
        "  <ResponseHeader>\n    <Version>1.8.1</Version>\n    <TaskDescription>Second unblinded read</TaskDescription>\n    <SeriesInstanceUid>{}</SeriesInstanceUid>\n  </ResponseHeader>\n",
        esc(&read.series_uid)
    );
    for r in &read.readers {
        s += "  <readingSession>\n    <annotationVersion>3.12</annotationVersion>\n";
        s += &format!("    <servicingRadiologistID>{}</servicingRadiologistID>\n", esc(&r.radiologist));
        for n in &r.nodules {
            s += &format!("    <unblindedReadNodule>\n      <noduleID>{}</noduleID>\n", esc(&n.id));
            for roi in &n.rois {
                s += &format!(
                    "      <roi>\n        <imageZposition>{:.6}</imageZposition>\n        <imageSOP_UID>2.25.0</imageSOP_UID>\n        <inclusion>{}</inclusion>\n",
                    roi.z_mm,
                    if roi.inclusion { "TRUE" } else { "FALSE" }
                );
                for (x, y) in &roi.points {
                    s += &format!("        <edgeMap>\n          <xCoord>{x}</xCoord>\n          <yCoord>{y}</yCoord>\n        </edgeMap>\n");
                }
                s += "      </roi>\n";
            }
            s += "    </unblindedReadNodule>\n";
        }
        s += "  </readingSession>\n";
    }
    s += "</LidcReadMessage>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<LidcReadMessage uid="1.3.6.1.4.1.14519.5.2.1.6279.6001.1307390687803.0" xmlns="http://www.nih.gov" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<ResponseHeader><Version>1.8.1</Version><SeriesInstanceUid>1.2.3</SeriesInstanceUid></ResponseHeader>
<readingSession>
 <annotationVersion>3.12</annotationVersion>
 <servicingRadiologistID>540461523</servicingRadiologistID>
 <unblindedReadNodule>
  <noduleID>Nodule 001</noduleID>
  <characteristics><subtlety>5</subtlety></characteristics>
  <roi>
   <imageZposition>-125.000000 </imageZposition>
   <imageSOP_UID>1.3.6.1</imageSOP_UID>
   <inclusion>TRUE</inclusion>
   <edgeMap><xCoord>312</xCoord><yCoord>355</yCoord></edgeMap>
   <edgeMap><xCoord>313</xCoord><yCoord>356</yCoord></edgeMap>
  </roi>
  <roi>
   <imageZposition>-122.5</imageZposition>
   <inclusion>FALSE</inclusion>
   <edgeMap><xCoord>314</xCoord><yCoord>357</yCoord></edgeMap>
  </roi>
 </unblindedReadNodule>
 <nonNodule><nonNoduleID>x</nonNoduleID><imageZposition>1</imageZposition><locus><xCoord>1</xCoord><yCoord>1</yCoord></locus></nonNodule>
</readingSession>
<readingSession><servicingRadiologistID>2</servicingRadiologistID></readingSession>
</LidcReadMessage>"#;

    #[test]
    fn parses_the_lidc_schema() {
        let r = parse_lidc_xml(SAMPLE, Path::new("a.xml")).unwrap();
        assert_eq!(r.series_uid, "1.2.3");
        assert_eq!(r.readers.len(), 2);
        assert_eq!(r.readers[0].radiologist, "540461523");
        let n = &r.readers[0].nodules[0];
        assert_eq!(n.id, "Nodule 001");
        assert_eq!(n.rois.len(), 2);
        assert_eq!(n.rois[0], Roi { z_mm: -125.0, inclusion: true, points: vec![(312, 355), (313, 356)] });
        assert!(!n.rois[1].inclusion);
        assert!(r.readers[1].nodules.is_empty());
        // Written and read back.
        let again = parse_lidc_xml(&to_lidc_xml(&r), Path::new("b.xml")).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bom.xml");
        std::fs::write(&p, format!("\u{feff}{SAMPLE}")).unwrap();
        assert_eq!(read_lidc_xml(&p).unwrap().series_uid, "1.2.3");
    }

    #[test]
    fn bad_files_name_the_problem() {
        let e = parse_lidc_xml("<LidcReadMessage><readingSession>", Path::new("bad.xml")).unwrap_err();
        assert!(e.to_string().starts_with("bad.xml: not XML"), "{e}");
        let e = parse_lidc_xml("<Other/>", Path::new("o.xml")).unwrap_err();
        assert!(e.to_string().contains("expected <LidcReadMessage>"), "{e}");
        let xml = SAMPLE.replace("-122.5", "abc");
        let e = parse_lidc_xml(&xml, Path::new("z.xml")).unwrap_err();
        assert!(e.to_string().contains("Nodule 001: imageZposition \"abc\""), "{e}");
    }
}
