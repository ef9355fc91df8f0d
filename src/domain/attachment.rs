//! Attachments (DESIGN.md "Attachments"): how big a file and a ticket's files may
//! be, which kinds of file are taken (by their content, whatever the name says),
//! and how a file's name is cleaned before it is stored and shown.

use unicode_normalization::UnicodeNormalization;

/// How much a ticket may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub file_bytes: u64,
    pub ticket_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_bytes: 20 * 1024 * 1024,
            ticket_bytes: 100 * 1024 * 1024,
        }
    }
}

/// Why a file is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Over the limit of a file or of the ticket (413).
    TooLarge,
    /// A kind of file the desk does not take, or one that is not what its name
    /// says (415).
    Kind,
}

/// Longest stored name, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// The name as stored and shown: NFC, without path parts or control
/// characters, trimmed and bounded; `file` when nothing is left.
pub fn clean_name(raw: &str) -> String {
    let nfc: String = raw.nfc().collect();
    let last = nfc.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(NAME_MAX_CHARS)
        .collect();
    if cleaned.is_empty() {
        "file".to_string()
    } else {
        cleaned
    }
}

/// Kinds taken, by what their content is.
const TAKEN: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "application/pdf",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/x-ole-storage",
];

/// What a name's extension claims, for the kinds whose content says otherwise.
fn claimed(name: &str) -> Option<&'static [&'static str]> {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_lowercase())?;
    let office_zip: &[&str] = &[
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/zip",
    ];
    Some(match ext.as_str() {
        "xlsx" | "docx" | "pptx" => office_zip,
        "xls" | "doc" | "ppt" => &[
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/x-ole-storage",
        ],
        "pdf" => &["application/pdf"],
        "png" => &["image/png"],
        "jpg" | "jpeg" => &["image/jpeg"],
        "gif" => &["image/gif"],
        "zip" => &["application/zip"],
        _ => return None,
    })
}

/// The content type of a file from its first bytes (and, for text, its
/// extension), or why it is refused: executables and unknown binaries, and
/// files whose content is not what their name claims.
pub fn sniff(head: &[u8], name: &str) -> Result<&'static str, Refused> {
    match infer::get(head) {
        Some(kind) => {
            let mime = TAKEN
                .iter()
                .copied()
                .find(|t| *t == kind.mime_type())
                .ok_or(Refused::Kind)?;
            match claimed(name) {
                Some(allowed) if !allowed.contains(&mime) => Err(Refused::Kind),
                _ => Ok(mime),
            }
        }
        None => {
            // No signature: text is taken (CSV and notes exported from other
            // systems, UTF-8 or Shift_JIS), binary is not.
            let text = !head.contains(&0) && claimed(name).is_none();
            if !text {
                return Err(Refused::Kind);
            }
            let ext = name.rsplit_once('.').map(|(_, e)| e.to_lowercase());
            Ok(match ext.as_deref() {
                Some("csv") => "text/csv",
                _ => "text/plain",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_path_and_control_characters_and_become_nfc() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\tanaka\\様式.xlsx"), "様式.xlsx");
        assert_eq!(clean_name("a\u{0}b\r\nc.txt"), "abc.txt");
        // ガ as カ + combining mark becomes one character.
        assert_eq!(clean_name("\u{30AB}\u{3099}.png"), "\u{30AC}.png");
        assert_eq!(clean_name("   "), "file");
        assert_eq!(clean_name(".htaccess"), "htaccess");
        assert_eq!(
            clean_name(&"あ".repeat(300)).chars().count(),
            NAME_MAX_CHARS
        );
    }

    #[test]
    fn content_decides_the_kind_and_an_executable_is_refused_whatever_its_name() {
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];
        assert_eq!(sniff(&png, "screen.png"), Ok("image/png"));
        assert_eq!(
            sniff(&png, "画面.jpg"),
            Err(Refused::Kind),
            "not what its name says"
        );
        let elf = [0x7F, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0];
        assert_eq!(sniff(&elf, "集計.xlsx"), Err(Refused::Kind));
        let exe = [b'M', b'Z', 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0];
        assert_eq!(sniff(&exe, "setup.exe"), Err(Refused::Kind));
        assert_eq!(sniff(b"%PDF-1.7\n", "form.pdf"), Ok("application/pdf"));
        assert_eq!(sniff("氏名,住所\n".as_bytes(), "名簿.csv"), Ok("text/csv"));
        assert_eq!(sniff(b"\x00\x01binary", "data.bin"), Err(Refused::Kind));
        assert_eq!(sniff(b"plain text", "fake.xlsx"), Err(Refused::Kind));
    }
}
