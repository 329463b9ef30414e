//! BPE encoding: added tokens → normalizer → pre-tokenizer → per-word merges (cached).

use std::borrow::Cow;

use super::BpeTokenizer;
use super::pretokenize::Word as PreWord;
use crate::tokenizer::byte_level::byte_to_char;
use crate::tokenizer::merge::{Word, rank_priority};
use crate::tokenizer::special::Segment;

impl BpeTokenizer {
    /// Appends the ids of `text` (no BOS/EOS) to `out`.
    pub(crate) fn encode_into(&self, text: &str, out: &mut Vec<u32>) {
        let mut word = Word::default();
        self.specials.split(text, |segment| match segment {
            Segment::Token(id) => out.push(id),
            Segment::Text { text, at_start } => {
                let normalized = match &self.normalizer {
                    Some(n) => n.apply(Cow::Borrowed(text)),
                    None => Cow::Borrowed(text),
                };
                let words = vec![PreWord {
                    text: normalized,
                    at_start,
                }];
                let words = match &self.pre_tokenizer {
                    Some(p) => p.apply(words),
                    None => words,
                };
                for w in &words {
                    self.cache
                        .encode_into(&w.text, out, |s, o| self.encode_word(s, &mut word, o));
                }
            }
        });
    }

    /// Merges one pre-tokenized word.
    fn encode_word(&self, text: &str, word: &mut Word, out: &mut Vec<u32>) {
        if self.ignore_merges {
            let key: Cow<'_, str> = if self.byte_level {
                let table = byte_to_char();
                Cow::Owned(text.bytes().map(|b| table[usize::from(b)]).collect())
            } else {
                Cow::Borrowed(text)
            };
            if let Some(&id) = self.vocab.get(key.as_ref()) {
                out.push(id);
                return;
            }
        }
        word.clear();
        if self.byte_level {
            for (i, b) in text.bytes().enumerate() {
                match self.byte_ids[usize::from(b)] {
                    Some(id) => word.push(i, 1, id, false),
                    None => self.push_unknown(word, i, 1),
                }
            }
        } else {
            for (i, c) in text.char_indices() {
                let len = c.len_utf8();
                if let Some(&id) = self.vocab.get(&text[i..i + len]) {
                    word.push(i, len, id, false);
                } else if self.byte_fallback
                    && let Some(ids) = text[i..i + len]
                        .bytes()
                        .map(|b| self.fallback_ids[usize::from(b)])
                        .collect::<Option<Vec<u32>>>()
                {
                    for (k, id) in ids.into_iter().enumerate() {
                        word.push(i + k, 1, id, false);
                    }
                } else {
                    self.push_unknown(word, i, len);
                }
            }
        }
        word.merge_all(|l, r| {
            self.merges
                .get(&(l.id, r.id))
                .map(|&(rank, id)| (rank_priority(rank), id))
        });
        out.extend(word.symbols().map(|s| s.id));
    }

    /// A character with no token: the unknown token (fused with a preceding one if asked), or
    /// nothing when the model has no unknown token (HF would fail; dropping keeps encoding total).
    fn push_unknown(&self, word: &mut Word, at: usize, len: usize) {
        let Some(unk) = self.unk else { return };
        match word.last() {
            Some(last)
                if self.fuse_unk && last.id == unk && (last.start + last.len) as usize == at =>
            {
                word.extend_last(len);
            }
            _ => word.push(at, len, unk, false),
        }
    }
}
