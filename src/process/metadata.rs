//! Metadata in outputs: none by default; with `metadata: keep-copyright`, a minimal EXIF
//! block holding only Artist and Copyright (never GPS, never a camera's other tags).
//!
//! Pure: bytes in, bytes out. The EXIF block is written into the encoded file's container
//! (JPEG APP1, PNG eXIf, WebP EXIF chunk of an extended file).

use crate::plan::OutFormat;

/// Artist and Copyright from a source's EXIF (TIFF) bytes.
pub fn copyright_of(tiff: Vec<u8>) -> (Option<String>, Option<String>) {
    let Ok(exif) = exif::Reader::new().read_raw(tiff) else {
        return (None, None);
    };
    let text = |tag| {
        exif.get_field(tag, exif::In::PRIMARY)
            .and_then(|f| match &f.value {
                exif::Value::Ascii(v) => {
                    let s: String = v
                        .iter()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .collect::<Vec<_>>()
                        .join(" ");
                    let s = s
                        .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                        .to_string();
                    (!s.is_empty()).then_some(s)
                }
                _ => None,
            })
    };
    (text(exif::Tag::Artist), text(exif::Tag::Copyright))
}

/// A big-endian TIFF structure with one IFD holding Artist and Copyright.
pub fn exif_block(artist: Option<&str>, copyright: Option<&str>) -> Option<Vec<u8>> {
    let entries: Vec<(u16, Vec<u8>)> = [(0x013Bu16, artist), (0x8298u16, copyright)]
        .into_iter()
        .filter_map(|(tag, v)| v.map(|s| (tag, [s.as_bytes(), b"\0"].concat())))
        .collect();
    if entries.is_empty() {
        return None;
    }
    let mut out = b"MM\0\x2a\0\0\0\x08".to_vec();
    out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    let mut data_at = 8 + 2 + entries.len() * 12 + 4;
    let mut data = Vec::new();
    for (tag, bytes) in &entries {
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&2u16.to_be_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        if bytes.len() <= 4 {
            let mut b = bytes.clone();
            b.resize(4, 0);
            out.extend_from_slice(&b);
        } else {
            out.extend_from_slice(&(data_at as u32).to_be_bytes());
            data.extend_from_slice(bytes);
            if bytes.len() % 2 == 1 {
                data.push(0);
            }
            data_at = 8 + 2 + entries.len() * 12 + 4 + data.len();
        }
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&data);
    Some(out)
}

/// `encoded` (of `format`) with `tiff` embedded as its EXIF.
pub fn embed(encoded: Vec<u8>, format: OutFormat, tiff: &[u8]) -> Vec<u8> {
    match format {
        OutFormat::Jpeg => {
            // After SOI and a JFIF APP0, if any.
            let mut at = 2;
            if encoded.get(2..4) == Some(&[0xFF, 0xE0]) {
                at = 4 + u16::from_be_bytes([encoded[4], encoded[5]]) as usize;
            }
            let mut seg = vec![0xFF, 0xE1];
            seg.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
            seg.extend_from_slice(b"Exif\0\0");
            seg.extend_from_slice(tiff);
            [&encoded[..at], &seg, &encoded[at..]].concat()
        }
        OutFormat::Png => {
            // After the IHDR chunk (signature 8 + IHDR 25 bytes).
            let mut chunk = (tiff.len() as u32).to_be_bytes().to_vec();
            chunk.extend_from_slice(b"eXIf");
            chunk.extend_from_slice(tiff);
            let crc = crc32fast::hash(&chunk[4..]);
            chunk.extend_from_slice(&crc.to_be_bytes());
            [&encoded[..33], &chunk, &encoded[33..]].concat()
        }
        OutFormat::Webp => webp_with_exif(encoded, tiff),
        // Written by libavif as it encodes (`process::encode_size`): nothing to add after.
        OutFormat::Avif => encoded,
    }
}

fn webp_with_exif(encoded: Vec<u8>, tiff: &[u8]) -> Vec<u8> {
    let mut exif_chunk = b"EXIF".to_vec();
    exif_chunk.extend_from_slice(&(tiff.len() as u32).to_le_bytes());
    exif_chunk.extend_from_slice(tiff);
    if tiff.len() % 2 == 1 {
        exif_chunk.push(0);
    }
    let body = &encoded[12..];
    let mut out_body = Vec::with_capacity(body.len() + exif_chunk.len() + 18);
    if body.starts_with(b"VP8X") {
        out_body.extend_from_slice(body);
        out_body[8] |= 0x08; // EXIF present
    } else {
        // A simple file: wrap it in an extended one (VP8X) that can carry EXIF.
        let (w, h, alpha) = simple_webp_size(body);
        let mut vp8x = b"VP8X".to_vec();
        vp8x.extend_from_slice(&10u32.to_le_bytes());
        vp8x.push(0x08 | if alpha { 0x10 } else { 0 });
        vp8x.extend_from_slice(&[0, 0, 0]);
        vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
        vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
        out_body.extend_from_slice(&vp8x);
        out_body.extend_from_slice(body);
    }
    out_body.extend_from_slice(&exif_chunk);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((out_body.len() + 4) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(&out_body);
    out
}

fn simple_webp_size(body: &[u8]) -> (u32, u32, bool) {
    let le16 = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]) as u32;
    if body.starts_with(b"VP8L") {
        let b = u32::from_le_bytes([body[9], body[10], body[11], body[12]]);
        (
            (b & 0x3FFF) + 1,
            ((b >> 14) & 0x3FFF) + 1,
            (b >> 28) & 1 == 1,
        )
    } else {
        (le16(14) & 0x3FFF, le16(16) & 0x3FFF, false)
    }
}

/// `bytes` of a JPEG or PNG file without the metadata that can identify a person or place
/// (JPEG APP1 EXIF/XMP, APP13 IPTC and comments; PNG eXIf, text and time chunks), every other
/// byte as it is: for an original that is published as it is because it cannot be decoded.
/// Segments after the image data starts are copied untouched, so a truncated or damaged file
/// stays exactly as damaged. `None` for other formats, or a structure that cannot be walked.
pub fn strip(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        strip_jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        strip_png(bytes)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        strip_webp(bytes)
    } else {
        None
    }
}

/// A WebP without its `EXIF` and `XMP ` chunks, the extended header's flags for them cleared
/// and the RIFF size made right. `None` for a chunk list that cannot be walked.
fn strip_webp(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes[..12].to_vec();
    let mut i = 12;
    while i < bytes.len() {
        let kind = bytes.get(i..i + 4)?;
        let len = u32::from_le_bytes(bytes.get(i + 4..i + 8)?.try_into().ok()?) as usize;
        // Chunks are padded to an even size.
        let end = (i + 8).checked_add(len + (len & 1))?.min(bytes.len());
        match kind {
            b"EXIF" | b"XMP " => {}
            b"VP8X" => {
                let start = out.len();
                out.extend_from_slice(&bytes[i..end]);
                // Flags: bit 3 EXIF, bit 2 XMP.
                if let Some(flags) = out.get_mut(start + 8) {
                    *flags &= !0b0000_1100;
                }
            }
            _ => out.extend_from_slice(&bytes[i..end]),
        }
        i = end;
    }
    let riff = u32::try_from(out.len() - 8).ok()?;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    Some(out)
}

fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..2]);
    let mut i = 2;
    loop {
        if *bytes.get(i)? != 0xFF {
            // Not a marker where one should be: keep the rest as it is.
            out.extend_from_slice(&bytes[i..]);
            return Some(out);
        }
        let marker = *bytes.get(i + 1)?;
        if marker == 0xDA || marker == 0xD9 {
            out.extend_from_slice(&bytes[i..]);
            return Some(out);
        }
        let len = u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]) as usize;
        let end = (i + 2 + len).min(bytes.len());
        // APP1 (EXIF, XMP), APP13 (IPTC), COM: dropped; APP2 (ICC), APP14 (Adobe) kept.
        if !matches!(marker, 0xE1 | 0xED | 0xFE) {
            out.extend_from_slice(&bytes[i..end]);
        }
        i = end;
        if i >= bytes.len() {
            return Some(out);
        }
    }
}

fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..8]);
    let mut i = 8;
    while i < bytes.len() {
        let len = u32::from_be_bytes(bytes.get(i..i + 4)?.try_into().ok()?) as usize;
        let kind = bytes.get(i + 4..i + 8)?;
        let end = (i + 12).saturating_add(len).min(bytes.len());
        if !matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME") {
            out.extend_from_slice(&bytes[i..end]);
        }
        i = end;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webp_loses_its_exif_and_xmp_chunks_and_their_flags() {
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = kind.to_vec();
            c.extend_from_slice(&(data.len() as u32).to_le_bytes());
            c.extend_from_slice(data);
            if data.len() % 2 == 1 {
                c.push(0);
            }
            c
        };
        let body = [
            chunk(b"VP8X", &[0b0000_1100, 0, 0, 0, 9, 0, 0, 9, 0, 0]),
            chunk(b"VP8L", &[0x2f, 1, 2, 3, 4]),
            chunk(b"EXIF", b"MM\0*GPS"),
            chunk(b"XMP ", b"<x/>"),
        ]
        .concat();
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        webp.extend_from_slice(b"WEBP");
        webp.extend_from_slice(&body);
        let out = strip(&webp).unwrap();
        let want = [
            chunk(b"VP8X", &[0, 0, 0, 0, 9, 0, 0, 9, 0, 0]),
            chunk(b"VP8L", &[0x2f, 1, 2, 3, 4]),
        ]
        .concat();
        assert_eq!(&out[12..], &want[..]);
        assert_eq!(
            u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
            out.len() - 8
        );
    }

    #[test]
    fn the_block_reads_back_with_only_artist_and_copyright() {
        let tiff = exif_block(Some("Ann Example"), Some("CC BY 4.0 Ann Example")).unwrap();
        assert_eq!(
            copyright_of(tiff.clone()),
            (
                Some("Ann Example".into()),
                Some("CC BY 4.0 Ann Example".into())
            )
        );
        let exif = exif::Reader::new().read_raw(tiff).unwrap();
        assert_eq!(exif.fields().count(), 2);
        assert_eq!(exif_block(None, None), None);
    }
}
