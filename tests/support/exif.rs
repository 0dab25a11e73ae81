//! A small EXIF writer for generated test photos: orientation, captions, capture time,
//! copyright and GPS, inserted as an APP1 segment into a JPEG. Tests and the demo use it to
//! make photos that look like a camera's without committing binaries.
#![allow(dead_code)]

/// What to write into a photo's EXIF.
#[derive(Debug, Clone, Default)]
pub struct Exif {
    /// Orientation 1–8.
    pub orientation: Option<u16>,
    /// ImageDescription.
    pub description: Option<String>,
    /// Artist.
    pub artist: Option<String>,
    /// Copyright.
    pub copyright: Option<String>,
    /// DateTimeOriginal, `YYYY:MM:DD HH:MM:SS`.
    pub date_time_original: Option<String>,
    /// OffsetTimeOriginal, `+02:00`.
    pub offset_time_original: Option<String>,
    /// GPS latitude and longitude in degrees (negative = S / W).
    pub gps: Option<(f64, f64)>,
}

enum Val {
    Short(u16),
    Long(u32),
    Ascii(Vec<u8>),
    Rational(Vec<(u32, u32)>),
}

struct Ifd {
    entries: Vec<(u16, Val)>,
}

impl Ifd {
    fn size(&self) -> usize {
        2 + self.entries.len() * 12 + 4 + self.extra()
    }
    fn extra(&self) -> usize {
        self.entries
            .iter()
            .map(|(_, v)| data_len(v))
            .map(|n| if n > 4 { n + n % 2 } else { 0 })
            .sum()
    }
    /// Write at `base` (offset from the TIFF header); `next` = offset of the next IFD or 0.
    fn write(&self, out: &mut Vec<u8>, base: usize, next: u32) {
        let mut data_off = base + 2 + self.entries.len() * 12 + 4;
        let mut data = Vec::new();
        out.extend_from_slice(&(self.entries.len() as u16).to_be_bytes());
        for (tag, v) in &self.entries {
            out.extend_from_slice(&tag.to_be_bytes());
            let (typ, count, bytes) = match v {
                Val::Short(x) => (3u16, 1u32, x.to_be_bytes().to_vec()),
                Val::Long(x) => (4, 1, x.to_be_bytes().to_vec()),
                Val::Ascii(a) => (2, a.len() as u32, a.clone()),
                Val::Rational(r) => (
                    5,
                    r.len() as u32,
                    r.iter()
                        .flat_map(|(n, d)| n.to_be_bytes().into_iter().chain(d.to_be_bytes()))
                        .collect(),
                ),
            };
            out.extend_from_slice(&typ.to_be_bytes());
            out.extend_from_slice(&count.to_be_bytes());
            if bytes.len() <= 4 {
                let mut b = bytes.clone();
                b.resize(4, 0);
                out.extend_from_slice(&b);
            } else {
                out.extend_from_slice(&(data_off as u32).to_be_bytes());
                let mut b = bytes.clone();
                if b.len() % 2 == 1 {
                    b.push(0);
                }
                data_off += b.len();
                data.extend_from_slice(&b);
            }
        }
        out.extend_from_slice(&next.to_be_bytes());
        out.extend_from_slice(&data);
    }
}

fn data_len(v: &Val) -> usize {
    match v {
        Val::Short(_) => 2,
        Val::Long(_) => 4,
        Val::Ascii(a) => a.len(),
        Val::Rational(r) => r.len() * 8,
    }
}

fn ascii(s: &str) -> Val {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    Val::Ascii(v)
}

fn dms(deg: f64) -> Vec<(u32, u32)> {
    let d = deg.abs();
    let whole = d.floor();
    let min = ((d - whole) * 60.0).floor();
    let sec = ((d - whole) * 60.0 - min) * 60.0;
    vec![
        (whole as u32, 1),
        (min as u32, 1),
        ((sec * 100.0).round() as u32, 100),
    ]
}

impl Exif {
    /// The TIFF structure (big-endian) that follows `Exif\0\0`.
    pub fn tiff(&self) -> Vec<u8> {
        let mut ifd0 = Ifd { entries: vec![] };
        if let Some(d) = &self.description {
            ifd0.entries.push((0x010E, ascii(d)));
        }
        if let Some(o) = self.orientation {
            ifd0.entries.push((0x0112, Val::Short(o)));
        }
        if let Some(a) = &self.artist {
            ifd0.entries.push((0x013B, ascii(a)));
        }
        if let Some(c) = &self.copyright {
            ifd0.entries.push((0x8298, ascii(c)));
        }
        let mut exif_ifd = Ifd { entries: vec![] };
        if let Some(t) = &self.date_time_original {
            exif_ifd.entries.push((0x9003, ascii(t)));
        }
        if let Some(o) = &self.offset_time_original {
            exif_ifd.entries.push((0x9011, ascii(o)));
        }
        let mut gps_ifd = Ifd { entries: vec![] };
        if let Some((lat, lon)) = self.gps {
            gps_ifd.entries.push((0x0000, Val::Long(0x0202_0000)));
            gps_ifd
                .entries
                .push((0x0001, ascii(if lat < 0.0 { "S" } else { "N" })));
            gps_ifd.entries.push((0x0002, Val::Rational(dms(lat))));
            gps_ifd
                .entries
                .push((0x0003, ascii(if lon < 0.0 { "W" } else { "E" })));
            gps_ifd.entries.push((0x0004, Val::Rational(dms(lon))));
        }
        // Pointer entries are placeholders now, patched once sizes are known.
        let has_exif = !exif_ifd.entries.is_empty();
        let has_gps = !gps_ifd.entries.is_empty();
        if has_exif {
            ifd0.entries.push((0x8769, Val::Long(0)));
        }
        if has_gps {
            ifd0.entries.push((0x8825, Val::Long(0)));
        }
        ifd0.entries.sort_by_key(|(t, _)| *t);
        let ifd0_off = 8usize;
        let exif_off = ifd0_off + ifd0.size();
        let gps_off = exif_off + if has_exif { exif_ifd.size() } else { 0 };
        for (t, v) in &mut ifd0.entries {
            if *t == 0x8769 {
                *v = Val::Long(exif_off as u32);
            }
            if *t == 0x8825 {
                *v = Val::Long(gps_off as u32);
            }
        }
        let mut out = b"MM\0\x2a".to_vec();
        out.extend_from_slice(&(ifd0_off as u32).to_be_bytes());
        ifd0.write(&mut out, ifd0_off, 0);
        if has_exif {
            exif_ifd.write(&mut out, exif_off, 0);
        }
        if has_gps {
            gps_ifd.write(&mut out, gps_off, 0);
        }
        out
    }

    /// `jpeg` with this EXIF inserted as APP1 right after SOI (and after a JFIF APP0).
    pub fn insert_into_jpeg(&self, jpeg: &[u8]) -> Vec<u8> {
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "not a JPEG");
        let mut pos = 2;
        if jpeg[2..4] == [0xFF, 0xE0] {
            let len = u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
            pos = 4 + len;
        }
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&self.tiff());
        let mut out = jpeg[..pos].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[pos..]);
        out
    }
}
