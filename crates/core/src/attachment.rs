//! What an agent may attach to a WhatsApp reply: Meta's supported media types and size limits for
//! outbound media (Cloud API, "Supported media types"), checked before anything is uploaded, so a file
//! Meta would refuse is refused at once with the reason instead of failing at Meta later.
//!
//! | kind     | MIME types                                                         | max     |
//! |----------|--------------------------------------------------------------------|---------|
//! | image    | image/jpeg, image/png                                              | 5 MB    |
//! | video    | video/mp4, video/3gpp (H.264 video, AAC audio)                     | 16 MB   |
//! | audio    | audio/aac, audio/amr, audio/mpeg, audio/mp4, audio/ogg (Opus)      | 16 MB   |
//! | document | application/pdf, text/plain, Word, Excel and PowerPoint (old/new) | 100 MB  |
//!
//! Sizes are decimal megabytes (5 MB = 5,000,000 bytes), the stricter reading, so nothing the desk
//! accepts is over Meta's limit. Stickers (image/webp) are not offered: WhatsApp sends them only as
//! stickers of exactly 512×512 pixels, not as pictures.

use std::fmt;

/// The kind of media message a file is sent as (Meta's message `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    pub const ALL: [MediaKind; 4] = [MediaKind::Image, MediaKind::Video, MediaKind::Audio, MediaKind::Document];

    /// Meta's message `type`, also the desk's message `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// Meta's limit for this kind, in bytes.
    pub fn max_bytes(self) -> u64 {
        match self {
            Self::Image => 5_000_000,
            Self::Video | Self::Audio => 16_000_000,
            Self::Document => 100_000_000,
        }
    }

    /// Audio messages carry no caption at Meta; the others do.
    pub fn takes_caption(self) -> bool {
        self != Self::Audio
    }

    /// The MIME types Meta accepts for this kind, in the form the desk stores them.
    pub fn mime_types(self) -> &'static [&'static str] {
        match self {
            Self::Image => &["image/jpeg", "image/png"],
            Self::Video => &["video/mp4", "video/3gpp"],
            Self::Audio => &["audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"],
            Self::Document => &[
                "application/pdf",
                "text/plain",
                "application/msword",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.ms-excel",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/vnd.ms-powerpoint",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ],
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Meta's limit for a media caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 1024;

/// A file the desk will send: its kind and its MIME type as Meta is told it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub kind: MediaKind,
    pub mime_type: String,
}

/// Why a file cannot be sent on WhatsApp, in words for the agent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("the file is empty")]
    Empty,
    #[error(
        "WhatsApp does not accept {what} files: send a JPEG or PNG image, an MP4 or 3GPP video, AAC, AMR, MP3, M4A or Opus audio, \
         or a PDF, text, Word, Excel or PowerPoint document"
    )]
    UnsupportedType { what: String },
    #[error("the {kind} is {size}; WhatsApp accepts {kind}s up to {max}")]
    TooLarge { kind: MediaKind, size: String, max: String },
    #[error("audio messages carry no caption on WhatsApp: send the text as a separate reply")]
    CaptionOnAudio,
    #[error("the caption is longer than {MAX_CAPTION_CHARS} characters")]
    CaptionTooLong,
}

/// The MIME type a file name's extension stands for, among those Meta accepts (browsers send
/// `application/octet-stream` or nothing for some, e.g. `.amr`).
pub fn mime_from_filename(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "mp4" => "video/mp4",
        "3gp" | "3gpp" => "video/3gpp",
        "aac" => "audio/aac",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "opus" | "oga" => "audio/ogg",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => return None,
    })
}

/// `image/JPEG; charset=x` → `image/jpeg`; the aliases browsers and systems use → Meta's names.
fn normalized(mime: &str) -> String {
    let base = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match base.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".into(),
        "video/3gp" => "video/3gpp".into(),
        "audio/mp3" | "audio/x-mp3" | "audio/mpeg3" => "audio/mpeg".into(),
        "audio/x-m4a" | "audio/m4a" => "audio/mp4".into(),
        "audio/x-aac" => "audio/aac".into(),
        "audio/opus" => "audio/ogg".into(),
        _ => base,
    }
}

/// Checks a file against Meta's types and limits. `mime` is what the uploader said (a browser's
/// `File.type`, a multipart part's `Content-Type`); when it says nothing useful, the file name's
/// extension decides. The caption is checked for its kind.
pub fn check(mime: Option<&str>, filename: Option<&str>, size: u64, caption: Option<&str>) -> Result<Attachment, AttachmentError> {
    let said = mime.map(normalized).filter(|m| !m.is_empty() && m != "application/octet-stream");
    let mime_type = match said {
        Some(m) => m,
        None => filename.and_then(mime_from_filename).map(str::to_owned).ok_or_else(|| AttachmentError::UnsupportedType {
            what: filename.and_then(|f| f.rsplit_once('.')).map_or_else(|| "untyped".to_owned(), |(_, ext)| format!(".{ext}")),
        })?,
    };
    let kind = MediaKind::ALL
        .into_iter()
        .find(|k| k.mime_types().contains(&mime_type.as_str()))
        .ok_or_else(|| AttachmentError::UnsupportedType { what: mime_type.clone() })?;
    if size == 0 {
        return Err(AttachmentError::Empty);
    }
    if size > kind.max_bytes() {
        return Err(AttachmentError::TooLarge { kind, size: human_size(size), max: human_size(kind.max_bytes()) });
    }
    if let Some(caption) = caption.map(str::trim).filter(|c| !c.is_empty()) {
        if !kind.takes_caption() {
            return Err(AttachmentError::CaptionOnAudio);
        }
        if caption.chars().count() > MAX_CAPTION_CHARS {
            return Err(AttachmentError::CaptionTooLong);
        }
    }
    Ok(Attachment { kind, mime_type })
}

/// `5000000` → `5 MB`, `5300000` → `5.3 MB`, `812000` → `812 kB` (decimal units, as Meta states its limits).
pub fn human_size(bytes: u64) -> String {
    let trim = |v: f64| {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
    };
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if bytes >= 1_000_000 {
        format!("{} MB", trim(b / 1e6))
    } else if bytes >= 1_000 {
        format!("{} kB", trim(b / 1e3))
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_takes_its_types_up_to_its_limit() {
        for kind in MediaKind::ALL {
            for mime in kind.mime_types() {
                let ok = check(Some(mime), None, kind.max_bytes(), None).unwrap();
                assert_eq!((ok.kind, ok.mime_type.as_str()), (kind, *mime));
                let err = check(Some(mime), None, kind.max_bytes() + 1, None).unwrap_err();
                assert!(matches!(err, AttachmentError::TooLarge { .. }), "{err}");
            }
        }
        let err = check(Some("image/png"), Some("big.png"), 5_300_000, None).unwrap_err();
        assert_eq!(err.to_string(), "the image is 5.3 MB; WhatsApp accepts images up to 5 MB");
        assert_eq!(check(Some("application/pdf"), None, 0, None), Err(AttachmentError::Empty));
    }

    #[test]
    fn unsupported_types_are_named() {
        let err = check(Some("image/gif"), Some("cat.gif"), 10, None).unwrap_err();
        assert!(err.to_string().starts_with("WhatsApp does not accept image/gif files"), "{err}");
        let err = check(Some("image/webp"), None, 10, None).unwrap_err();
        assert!(matches!(err, AttachmentError::UnsupportedType { .. }));
        let err = check(None, Some("setup.exe"), 10, None).unwrap_err();
        assert!(err.to_string().starts_with("WhatsApp does not accept .exe files"), "{err}");
        let err = check(Some("application/octet-stream"), None, 10, None).unwrap_err();
        assert!(err.to_string().starts_with("WhatsApp does not accept untyped files"), "{err}");
    }

    #[test]
    fn aliases_parameters_and_extensions() {
        assert_eq!(check(Some("IMAGE/JPG"), None, 10, None).unwrap().mime_type, "image/jpeg");
        assert_eq!(check(Some("audio/ogg; codecs=opus"), None, 10, None).unwrap().mime_type, "audio/ogg");
        assert_eq!(check(Some("video/3gp"), None, 10, None).unwrap().kind, MediaKind::Video);
        let amr = check(Some("application/octet-stream"), Some("memo.AMR"), 10, None).unwrap();
        assert_eq!((amr.kind, amr.mime_type.as_str()), (MediaKind::Audio, "audio/amr"));
        assert_eq!(check(None, Some("report.xlsx"), 10, None).unwrap().kind, MediaKind::Document);
    }

    #[test]
    fn captions_fit_their_kind() {
        assert!(check(Some("image/png"), None, 10, Some("Here it is")).is_ok());
        assert_eq!(check(Some("audio/mpeg"), None, 10, Some("listen")), Err(AttachmentError::CaptionOnAudio));
        assert!(check(Some("audio/mpeg"), None, 10, Some("  ")).is_ok(), "a blank caption is no caption");
        let long = "x".repeat(MAX_CAPTION_CHARS + 1);
        assert_eq!(check(Some("application/pdf"), None, 10, Some(&long)), Err(AttachmentError::CaptionTooLong));
    }

    #[test]
    fn sizes_read_as_meta_states_them() {
        assert_eq!(human_size(5_000_000), "5 MB");
        assert_eq!(human_size(16_500_000), "16.5 MB");
        assert_eq!(human_size(812_000), "812 kB");
        assert_eq!(human_size(12), "12 bytes");
    }
}
