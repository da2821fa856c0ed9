//! Small, valid sample media for what customers "send": a PNG picture, a one-second Ogg/Opus voice
//! note (silence), and a one-page PDF. Made in code, so nothing is downloaded and no binary sits in
//! the repository; each is built once.

use std::sync::OnceLock;

pub const PNG_MIME: &str = "image/png";
/// What WhatsApp voice notes are.
pub const VOICE_MIME: &str = "audio/ogg; codecs=opus";
pub const PDF_MIME: &str = "application/pdf";

/// A 64×64 PNG: a green square with a white speech bubble.
pub fn png() -> &'static [u8] {
    static PNG: OnceLock<Vec<u8>> = OnceLock::new();
    PNG.get_or_init(make_png)
}

/// One second of Opus silence in an Ogg container (RFC 7845), mono, 48 kHz.
pub fn ogg_opus() -> &'static [u8] {
    static OGG: OnceLock<Vec<u8>> = OnceLock::new();
    OGG.get_or_init(make_ogg_opus)
}

/// A one-page PDF saying "Windowdesk sample invoice".
pub fn pdf() -> &'static [u8] {
    static PDF: OnceLock<Vec<u8>> = OnceLock::new();
    PDF.get_or_init(make_pdf)
}

/// CRC-32 as PNG (and zip) use it: reflected polynomial 0xEDB88320.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// zlib with stored (uncompressed) deflate blocks: valid everywhere, and trivial to write.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn make_png() -> Vec<u8> {
    const SIZE: u32 = 64;
    let mut raw = Vec::with_capacity((SIZE * (SIZE * 3 + 1)) as usize);
    for y in 0..SIZE {
        raw.push(0); // filter: none
        for x in 0..SIZE {
            let bubble = (12..44).contains(&y) && (10..54).contains(&x);
            let tail = (44..52).contains(&y) && (16..16 + (52 - y)).contains(&x);
            let rgb = if bubble || tail { [0xFF, 0xFF, 0xFF] } else { [0x25, 0xD3, 0x66] };
            raw.extend_from_slice(&rgb);
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&SIZE.to_be_bytes());
    ihdr.extend_from_slice(&SIZE.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Ogg's CRC: polynomial 0x04C11DB7, not reflected, initial value 0.
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04C1_1DB7 } else { crc << 1 };
        }
    }
    crc
}

/// One Ogg page holding whole packets (each under 255 bytes, as ours are).
fn ogg_page(out: &mut Vec<u8>, flags: u8, granule: u64, sequence: u32, packets: &[&[u8]]) {
    const SERIAL: u32 = 0x5749_4E44; // "WIND"
    let start = out.len();
    out.extend_from_slice(b"OggS");
    out.push(0);
    out.push(flags);
    out.extend_from_slice(&granule.to_le_bytes());
    out.extend_from_slice(&SERIAL.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(packets.len() as u8);
    for p in packets {
        out.push(p.len() as u8);
    }
    for p in packets {
        out.extend_from_slice(p);
    }
    let crc = ogg_crc(&out[start..]);
    out[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
}

fn make_ogg_opus() -> Vec<u8> {
    const PRE_SKIP: u16 = 312;
    const FRAMES: usize = 50; // 50 × 20 ms
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // mono
    head.extend_from_slice(&PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family
    let vendor = b"windowdesk-sim";
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    // TOC 0xF8: CELT-only, fullband, 20 ms, mono, one frame; 0xFF 0xFE is the usual silent frame.
    let silence: &[u8] = &[0xF8, 0xFF, 0xFE];
    let audio: Vec<&[u8]> = vec![silence; FRAMES];
    let mut out = Vec::new();
    ogg_page(&mut out, 0x02, 0, 0, &[&head]);
    ogg_page(&mut out, 0x00, 0, 1, &[&tags]);
    ogg_page(&mut out, 0x04, u64::from(PRE_SKIP) + 960 * FRAMES as u64, 2, &audio);
    out
}

fn make_pdf() -> Vec<u8> {
    let content = "BT /F1 18 Tf 24 64 Td (Windowdesk sample invoice) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{obj}\nendobj\n", i + 1));
    }
    let xref_at = out.len();
    out.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for off in offsets {
        out.push_str(&format!("{off:010} 00000 n \n"));
    }
    out.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n", objects.len() + 1));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_vectors() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Ogg's CRC is CRC-32/CKSUM without the final inversion: !0x765E7680.
        assert_eq!(ogg_crc(b"123456789"), 0x89A1_897F);
    }

    #[test]
    fn samples_have_the_right_magic() {
        assert!(png().starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png().ends_with(&[0xAE, 0x42, 0x60, 0x82]), "IEND's CRC is fixed");
        let ogg = ogg_opus();
        assert!(ogg.starts_with(b"OggS"));
        assert_eq!(&ogg[28..36], b"OpusHead");
        assert_eq!(ogg.windows(4).filter(|w| w == b"OggS").count(), 3);
        assert!(pdf().starts_with(b"%PDF-1.4") && pdf().ends_with(b"%%EOF\n"));
    }
}
