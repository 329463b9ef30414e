//! SentencePiece unigram encoding: the Viterbi best segmentation under piece log-probabilities
//! (sentencepiece 0.2 `unigram_model.cc`, `EncodeOptimized`), scores summed in `f32` in the same
//! order so that ties break identically.

use super::SentencePiece;
use super::model_proto::PieceType;

/// Penalty below the lowest piece score for an unknown character.
const UNK_PENALTY: f32 = 10.0;

#[derive(Clone, Copy)]
struct Node {
    /// Where the best piece ending here starts (`usize::MAX`: unreached).
    start: usize,
    id: u32,
    score: f32,
}

impl SentencePiece {
    /// Appends the unigram segmentation of normalized `text` to `out`.
    pub(crate) fn encode_unigram(&self, text: &str, out: &mut Vec<u32>) {
        let bytes = text.len();
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Node {
                start: usize::MAX,
                id: self.unk_id,
                score: 0.0,
            };
            bytes + 1
        ];
        best[0].start = 0;
        for (start, c) in text.char_indices() {
            let here = best[start].score;
            let char_len = c.len_utf8();
            let mut single = false;
            // Every piece starting here, shortest first (the order of sentencepiece's trie walk).
            let mut end = start;
            for (n, ch) in text[start..].chars().enumerate() {
                end += ch.len_utf8();
                if n >= self.max_piece_chars {
                    break;
                }
                let Some(&id) = self.pieces.get(&text[start..end]) else {
                    continue;
                };
                let kind = self.proto.pieces[id as usize].kind;
                if kind == PieceType::Unused {
                    continue;
                }
                let score = if kind == PieceType::UserDefined {
                    (end - start) as f32 * self.max_score - 0.1
                } else {
                    self.proto.pieces[id as usize].score
                };
                let candidate = score + here;
                let node = &mut best[end];
                if node.start == usize::MAX || candidate > node.score {
                    *node = Node {
                        start,
                        id,
                        score: candidate,
                    };
                }
                if end - start == char_len {
                    single = true;
                }
            }
            if !single {
                let candidate = unk_score + here;
                let node = &mut best[start + char_len];
                if node.start == usize::MAX || candidate > node.score {
                    *node = Node {
                        start,
                        id: self.unk_id,
                        score: candidate,
                    };
                }
            }
        }
        let mut path = Vec::new();
        let mut end = bytes;
        while end > 0 {
            let node = best[end];
            if node.start >= end {
                break; // unreachable: every character end is reached by a piece or `<unk>`
            }
            path.push((node.start, end, node.id));
            end = node.start;
        }
        let first = out.len();
        for &(start, end, id) in path.iter().rev() {
            self.emit(&text[start..end], id, first, out);
        }
    }
}
