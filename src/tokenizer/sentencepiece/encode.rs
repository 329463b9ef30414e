//! SentencePiece encoding: normalization, BPE by piece score, unused-piece resegmentation and
//! byte fallback (sentencepiece 0.2 `normalizer.cc`, `bpe_model.cc`, `sentencepiece_processor.cc`).

use super::charsmap::{CharsMap, char_len};
use super::model_proto::{ModelType, PieceType};
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
        if self.proto.model_type == ModelType::Unigram {
            // Viterbi sums scores over the whole text; splitting would change float rounding.
            self.encode_unigram(&normalized, out);
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

    /// Normalization: the precompiled rules when the model has them, else the identity rules
    /// (whitespace handling and `▁` escaping only).
    pub(crate) fn normalize(&self, text: &str) -> String {
        if let Some(map) = &self.charsmap {
            return self.normalize_with_rules(map, text);
        }
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

    /// One normalization step at the start of `input`: a user-defined symbol verbatim, the
    /// longest rule, one character, or U+FFFD for one malformed byte (`NormalizePrefix`).
    fn normalize_prefix<'a>(&self, map: &'a CharsMap, input: &'a [u8]) -> (&'a [u8], usize) {
        if let Some(user) = self
            .user_defined
            .iter()
            .find(|p| input.starts_with(p.as_bytes()))
        {
            return (&input[..user.len()], user.len());
        }
        if let Some((replacement, len)) = map.longest(input).filter(|m| m.1 > 0) {
            return (replacement, len);
        }
        match char_len(input) {
            Some(len) => (&input[..len], len),
            None => ("\u{FFFD}".as_bytes(), 1),
        }
    }

    /// sentencepiece 0.2 `Normalizer::Normalize` with precompiled rules.
    fn normalize_with_rules(&self, map: &CharsMap, text: &str) -> String {
        let spec = &self.proto.normalizer;
        let mut input = text.as_bytes();
        if spec.remove_extra_whitespaces {
            while !input.is_empty() {
                let (piece, len) = self.normalize_prefix(map, input);
                if piece != b" " {
                    break;
                }
                input = &input[len..];
            }
        }
        if input.is_empty() {
            return String::new();
        }
        let mut buf = [0u8; 4];
        let space: &[u8] = if spec.escape_whitespaces {
            SPACE.encode_utf8(&mut buf).as_bytes()
        } else {
            b" "
        };
        let suffix = self.proto.treat_whitespace_as_suffix;
        let mut out: Vec<u8> = Vec::with_capacity(input.len() + input.len() / 4 + 3);
        if spec.add_dummy_prefix && !suffix {
            out.extend_from_slice(space);
        }
        let mut prev_space = spec.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut piece, len) = self.normalize_prefix(map, input);
            if prev_space {
                while let Some(rest) = piece.strip_prefix(b" ") {
                    piece = rest;
                }
            }
            if !piece.is_empty() {
                for &b in piece {
                    if b == b' ' {
                        out.extend_from_slice(space);
                    } else {
                        out.push(b);
                    }
                }
                prev_space = piece.ends_with(b" ");
            }
            input = &input[len..];
            if !spec.remove_extra_whitespaces {
                prev_space = false;
            }
        }
        if spec.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
        if spec.add_dummy_prefix && suffix {
            out.extend_from_slice(space);
        }
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
        let first = out.len();
        for s in word.symbols() {
            let piece = &text[s.start as usize..(s.start + s.len) as usize];
            self.resegment(piece, &rev_merge, first, out);
        }
    }

    fn resegment(
        &self,
        piece: &str,
        rev_merge: &FxHashMap<&str, (&str, &str)>,
        first: usize,
        out: &mut Vec<u32>,
    ) {
        if let Some(&(left, right)) = rev_merge.get(piece) {
            self.resegment(left, rev_merge, first, out);
            self.resegment(right, rev_merge, first, out);
            return;
        }
        self.emit(piece, self.piece_to_id(piece), first, out);
    }

    /// Appends piece `id` (text `piece`): unknown pieces become bytes under byte fallback, and a
    /// run of unknown pieces inside this span is reported once.
    pub(crate) fn emit(&self, piece: &str, id: u32, first: usize, out: &mut Vec<u32>) {
        if id == self.unk_id && self.proto.byte_fallback {
            out.extend(piece.bytes().filter_map(|b| self.byte_ids[usize::from(b)]));
        } else if id == self.unk_id && out.len() > first && out.last() == Some(&self.unk_id) {
            // sentencepiece reports a run of unknown characters as one unknown piece. Only runs
            // inside this span are fused: spans start with `▁`, which every model knows, and the
            // cached result of a span must not depend on what precedes it.
        } else {
            out.push(id);
        }
    }
}
