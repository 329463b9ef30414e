//! SentencePiece encoding: normalization, BPE by piece score, unused-piece resegmentation and
//! byte fallback (sentencepiece 0.2 `normalizer.cc`, `bpe_model.cc`, `sentencepiece_processor.cc`).

use super::model_proto::PieceType;
use super::{SPACE, SentencePiece};
use crate::tokenizer::fx::FxHashMap;
use crate::tokenizer::merge::{Word, score_priority};

impl SentencePiece {
    /// Appends the ids of `text` (no BOS/EOS) to `out`.
    pub(crate) fn encode_into(&self, text: &str, out: &mut Vec<u32>) {
        let normalized = self.normalize(text);
        if normalized.is_empty() {
            return;
        }
        let mut word = Word::default();
        if !self.split_at_spaces {
            self.encode_word(&normalized, &mut word, out);
            return;
        }
        // No piece contains `▁` after another character, so no merge crosses the start of a
        // `▁`-run that follows other text: each such span is merged on its own, exactly.
        let mut start = 0;
        let mut prev = SPACE;
        for (i, c) in normalized.char_indices() {
            if c == SPACE && prev != SPACE && i > start {
                let span = &normalized[start..i];
                self.cache
                    .encode_into(span, out, |w, o| self.encode_word(w, &mut word, o));
                start = i;
            }
            prev = c;
        }
        let span = &normalized[start..];
        self.cache
            .encode_into(span, out, |w, o| self.encode_word(w, &mut word, o));
    }

    /// The identity normalizer: whitespace handling and `▁` escaping.
    pub(crate) fn normalize(&self, text: &str) -> String {
        let spec = &self.proto.normalizer;
        let mut body = text;
        if spec.remove_extra_whitespaces {
            body = body.trim_start_matches(' ');
        }
        if body.is_empty() {
            return String::new();
        }
        let space = if spec.escape_whitespaces { SPACE } else { ' ' };
        let suffix = self.proto.treat_whitespace_as_suffix;
        let mut out = String::with_capacity(body.len() + body.len() / 4 + 3);
        if spec.add_dummy_prefix && !suffix {
            out.push(space);
        }
        let mut prev_space = false;
        for c in body.chars() {
            if c == ' ' {
                if spec.remove_extra_whitespaces && prev_space {
                    continue;
                }
                prev_space = true;
                out.push(space);
            } else {
                prev_space = false;
                out.push(c);
            }
        }
        if spec.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.pop();
            }
        }
        if spec.add_dummy_prefix && suffix {
            out.push(space);
        }
        out
    }

    /// BPE over one span of normalized text.
    fn encode_word(&self, text: &str, word: &mut Word, out: &mut Vec<u32>) {
        word.clear();
        let mut pos = 0;
        while pos < text.len() {
            let rest = &text[pos..];
            if let Some(user) = self.user_defined.iter().find(|p| rest.starts_with(&***p)) {
                word.push(pos, user.len(), 0, true);
                pos += user.len();
            } else {
                let len = rest.chars().next().map_or(1, char::len_utf8);
                word.push(pos, len, 0, false);
                pos += len;
            }
        }
        // SentencePiece remembers how each unused piece was formed, to split it again afterwards.
        let mut rev_merge: FxHashMap<&str, (&str, &str)> = FxHashMap::default();
        let pieces = &self.proto.pieces;
        word.merge_all(|l, r| {
            let (a, b, c) = (
                l.start as usize,
                r.start as usize,
                (r.start + r.len) as usize,
            );
            let id = *self.pieces.get(text.get(a..c)?)?;
            let piece = pieces.get(id as usize)?;
            if self.has_unused && piece.kind == PieceType::Unused {
                rev_merge.insert(&text[a..c], (&text[a..b], &text[b..c]));
            }
            Some((score_priority(piece.score), id))
        });
        for s in word.symbols() {
            let piece = &text[s.start as usize..(s.start + s.len) as usize];
            self.resegment(piece, &rev_merge, out);
        }
    }

    fn resegment(
        &self,
        piece: &str,
        rev_merge: &FxHashMap<&str, (&str, &str)>,
        out: &mut Vec<u32>,
    ) {
        if let Some(&(left, right)) = rev_merge.get(piece) {
            self.resegment(left, rev_merge, out);
            self.resegment(right, rev_merge, out);
            return;
        }
        let id = self.piece_to_id(piece);
        if id == self.unk_id && self.proto.byte_fallback {
            out.extend(piece.bytes().filter_map(|b| self.byte_ids[usize::from(b)]));
        } else {
            out.push(id);
        }
    }
}
