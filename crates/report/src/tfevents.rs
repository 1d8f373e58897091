//! TensorBoard event files (`events.out.tfevents.<time>.<host>`), written as a run goes.
//!
//! A file is a sequence of TFRecords: `u64` length (little-endian), masked CRC-32C of the length,
//! the data, masked CRC-32C of the data. Each record's data is an `Event` protobuf
//! (tensorflow/core/util/event.proto): `wall_time` (field 1, double), `step` (2, int64),
//! `file_version` (3, string; the first event says `brain.Event:2`) or `summary` (5, a message
//! of repeated `value` (1) messages holding `tag` (1, string) and `simple_value` (2, float)).
//!
//! The protobuf encoder and decoder are written by hand: they cover these five fields only, and
//! `prost` would bring a `.proto` build step (protoc) for ~60 lines of wire format.
use crate::error::{Error, Result};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One scalar of an event file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// Tag (`train/loss`, `validation/dice`, ...).
    pub tag: String,
    /// Step.
    pub step: i64,
    /// Value.
    pub value: f32,
    /// Wall time, Unix seconds.
    pub wall_time: f64,
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(field: u64, wire: u64, out: &mut Vec<u8>) {
    varint((field << 3) | wire, out);
}

fn bytes_field(field: u64, data: &[u8], out: &mut Vec<u8>) {
    key(field, 2, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn event_header(wall_time: f64, step: i64, out: &mut Vec<u8>) {
    key(1, 1, out);
    out.extend_from_slice(&wall_time.to_le_bytes());
    if step != 0 {
        key(2, 0, out);
        varint(step as u64, out);
    }
}

fn scalar_event(s: &Scalar) -> Vec<u8> {
    let mut value = Vec::new();
    bytes_field(1, s.tag.as_bytes(), &mut value);
    key(2, 5, &mut value);
    value.extend_from_slice(&s.value.to_le_bytes());
    let mut summary = Vec::new();
    bytes_field(1, &value, &mut summary);
    let mut ev = Vec::new();
    event_header(s.wall_time, s.step, &mut ev);
    bytes_field(5, &summary, &mut ev);
    ev
}

fn version_event(wall_time: f64) -> Vec<u8> {
    let mut ev = Vec::new();
    event_header(wall_time, 0, &mut ev);
    bytes_field(3, b"brain.Event:2", &mut ev);
    ev
}

fn record(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut r = Vec::with_capacity(data.len() + 16);
    r.extend_from_slice(&len);
    r.extend_from_slice(&masked_crc(&len).to_le_bytes());
    r.extend_from_slice(data);
    r.extend_from_slice(&masked_crc(data).to_le_bytes());
    r
}

/// A protobuf reader over the few fields used here.
struct Wire<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Wire<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.i)?;
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }
    /// The next field: number, wire type and its payload (varints as 8 little-endian bytes).
    fn field(&mut self) -> Option<(u64, u64, Vec<u8>)> {
        let k = self.varint()?;
        let (f, w) = (k >> 3, k & 7);
        let payload = match w {
            0 => self.varint()?.to_le_bytes().to_vec(),
            1 => self.take(8)?.to_vec(),
            2 => {
                let n = self.varint()? as usize;
                self.take(n)?.to_vec()
            }
            5 => self.take(4)?.to_vec(),
            _ => return None,
        };
        Some((f, w, payload))
    }
}

fn decode_scalars(ev: &[u8]) -> Option<Vec<Scalar>> {
    let (mut wall_time, mut step, mut out) = (0.0, 0i64, Vec::new());
    let mut summaries = Vec::new();
    let mut w = Wire { b: ev, i: 0 };
    while w.i < ev.len() {
        let (f, _, p) = w.field()?;
        match f {
            1 => wall_time = f64::from_le_bytes(p.get(..8)?.try_into().ok()?),
            2 => step = i64::from_le_bytes(p.get(..8)?.try_into().ok()?),
            5 => summaries.push(p),
            _ => {}
        }
    }
    for s in summaries {
        let mut sw = Wire { b: &s, i: 0 };
        while sw.i < s.len() {
            let (f, _, v) = sw.field()?;
            if f != 1 {
                continue;
            }
            let (mut tag, mut value) = (String::new(), None);
            let mut vw = Wire { b: &v, i: 0 };
            while vw.i < v.len() {
                let (vf, _, vp) = vw.field()?;
                match vf {
                    1 => tag = String::from_utf8(vp).ok()?,
                    2 => value = Some(f32::from_le_bytes(vp.get(..4)?.try_into().ok()?)),
                    _ => {}
                }
            }
            if let Some(value) = value {
                out.push(Scalar { tag, step, value, wall_time });
            }
        }
    }
    Some(out)
}

/// Reads the scalars of an event file; a record with a bad length or checksum is an error naming
/// the file (a torn last record, from a crash mid-write, is dropped).
pub fn read_scalars(path: &Path) -> Result<Vec<Scalar>> {
    let b = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        if b.len() - i < 12 {
            break; // torn header
        }
        let len_bytes = &b[i..i + 8];
        let crc = u32::from_le_bytes(b[i + 8..i + 12].try_into().expect("4 bytes"));
        if crc != masked_crc(len_bytes) {
            return Err(Error::format(path, format!("record at byte {i}: bad length checksum")));
        }
        let n = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let end = (n as usize).checked_add(i + 16);
        let Some(end) = end.filter(|&e| e <= b.len()) else { break };
        let data = &b[i + 12..end - 4];
        let dcrc = u32::from_le_bytes(b[end - 4..end].try_into().expect("4 bytes"));
        if dcrc != masked_crc(data) {
            return Err(Error::format(path, format!("record at byte {i}: bad data checksum")));
        }
        out.extend(
            decode_scalars(data).ok_or_else(|| Error::format(path, format!("record at byte {i}: not an Event")))?,
        );
        i = end;
    }
    Ok(out)
}

/// The event file of a run folder (the first `events.out.tfevents.*` in name order), if any.
pub fn find_event_file(dir: &Path) -> Option<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents.")))
        .collect();
    files.sort();
    files.into_iter().next()
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Appends scalars to a run's event file.
pub struct EventWriter {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
}

impl EventWriter {
    /// Opens the event file of `dir` for a run that continues at its current state: an existing
    /// file keeps the scalars for which `keep(tag, step)` holds (rewritten atomically, so a resumed
    /// run does not log a step twice); without one, a new `events.out.tfevents.<time>.<host>` is
    /// started with its `brain.Event:2` header.
    pub fn resume(dir: &Path, keep: impl Fn(&str, i64) -> bool) -> Result<Self> {
        let path = match find_event_file(dir) {
            Some(p) => {
                let kept: Vec<Scalar> = read_scalars(&p)?.into_iter().filter(|s| keep(&s.tag, s.step)).collect();
                let mut bytes = record(&version_event(now()));
                for s in &kept {
                    bytes.extend(record(&scalar_event(s)));
                }
                iw_core::write_file_atomically(&p, &bytes)?;
                p
            }
            None => {
                let host = std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty() && !h.contains('/'))
                    .unwrap_or_else(|| "localhost".into());
                let p = dir.join(format!("events.out.tfevents.{}.{host}", now() as u64));
                iw_core::write_file_atomically(&p, &record(&version_event(now())))?;
                p
            }
        };
        let file = std::fs::OpenOptions::new().append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(EventWriter { path, file: std::io::BufWriter::new(file) })
    }

    /// Appends one scalar (buffered until [`EventWriter::flush`]).
    pub fn scalar(&mut self, tag: &str, step: i64, value: f64) -> Result<()> {
        let s = Scalar { tag: tag.into(), step, value: value as f32, wall_time: now() };
        self.file.write_all(&record(&scalar_event(&s))).map_err(|e| Error::io(&self.path, e))
    }

    /// Writes the buffered scalars to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| Error::io(&self.path, e))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_of_known_vector() {
        // crc32c("123456789") = 0xE3069283 (RFC 3720's check value); masked, as tensorboard's
        // `tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c(b"123456789")`.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(masked_crc(b"123456789"), 0xC78A_B0E5);
    }

    #[test]
    fn scalars_round_trip_and_resume_drops_later_steps() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::resume(dir.path(), |_, _| true).unwrap();
        for step in 0..10 {
            w.scalar("train/loss", step, 1.0 / (step + 1) as f64).unwrap();
        }
        w.scalar("validation/dice", 10, 0.5).unwrap();
        w.flush().unwrap();
        let path = w.path().to_path_buf();
        drop(w);
        let s = read_scalars(&path).unwrap();
        assert_eq!(s.len(), 11);
        assert_eq!(s[3].step, 3);
        assert_eq!(s[3].value, 0.25);
        assert_eq!(s[10].tag, "validation/dice");
        let mut w = EventWriter::resume(dir.path(), |tag, step| tag.starts_with("validation") || step < 5).unwrap();
        assert_eq!(w.path(), path);
        w.scalar("train/loss", 5, 9.0).unwrap();
        w.flush().unwrap();
        let s = read_scalars(&path).unwrap();
        let steps: Vec<i64> = s.iter().filter(|s| s.tag == "train/loss").map(|s| s.step).collect();
        assert_eq!(steps, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(s.last().unwrap().value, 9.0);
    }

    #[test]
    fn corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.out.tfevents.1.x");
        let mut bytes = record(&version_event(1.0));
        let n = bytes.len();
        bytes[n - 1] ^= 0xff;
        std::fs::write(&p, bytes).unwrap();
        let e = read_scalars(&p).unwrap_err().to_string();
        assert!(e.contains("events.out.tfevents.1.x") && e.contains("checksum"), "{e}");
    }
}
