//! A small deterministic tokenizer for data tests (the real ones live in `lpipe::tokenizer`).

use lpipe::tokenizer::Tokenizer;

/// Byte-level ids (byte + 3) with BOS = 1, EOS = 2, except that `"\n1"` is one token (300),
/// so text that starts a response with `1` merges across the prompt boundary.
pub struct ByteTokenizer;

pub const MERGED: u32 = 300;

impl Tokenizer for ByteTokenizer {
    fn encode(&self, text: &str, add_bos: bool) -> Vec<u32> {
        let mut ids = Vec::new();
        if add_bos {
            ids.push(1);
        }
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\n' && bytes.get(i + 1) == Some(&b'1') {
                ids.push(MERGED);
                i += 2;
            } else {
                ids.push(u32::from(bytes[i]) + 3);
                i += 1;
            }
        }
        ids
    }

    fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids
            .iter()
            .flat_map(|&id| match id {
                MERGED => vec![b'\n', b'1'],
                3..=258 => vec![(id - 3) as u8],
                _ => vec![],
            })
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn bos_id(&self) -> Option<u32> {
        Some(1)
    }

    fn eos_id(&self) -> Option<u32> {
        Some(2)
    }

    fn vocab_size(&self) -> usize {
        301
    }
}

/// The same, without an EOS token.
pub struct NoEosTokenizer;

impl Tokenizer for NoEosTokenizer {
    fn encode(&self, text: &str, add_bos: bool) -> Vec<u32> {
        ByteTokenizer.encode(text, add_bos)
    }
    fn decode(&self, ids: &[u32]) -> String {
        ByteTokenizer.decode(ids)
    }
    fn bos_id(&self) -> Option<u32> {
        None
    }
    fn eos_id(&self) -> Option<u32> {
        None
    }
    fn vocab_size(&self) -> usize {
        301
    }
}

/// Renders a diagnostic as the CLI does, without colours, at width 100.
pub fn render(diagnostic: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, diagnostic)
        .expect("render");
    out
}

/// A fresh directory under the target dir's tmp (removed by the OS, not by tests).
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    lpipe::testing::scratch(&format!("data-{name}"))
}
