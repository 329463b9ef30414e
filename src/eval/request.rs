//! Log-likelihood requests: token ids of a context and a continuation, encoded as lm-evaluation-harness does.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::tokenizer::Tokenizer;

/// One scoring request: log P(continuation | context) and whether the continuation is the greedy one.
///
/// Requests of the same document share one `context` allocation (compare with [`Arc::ptr_eq`] or
/// [`crate::eval::context_groups`]), so a model can run the context once for all its continuations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Context token ids (never empty: an empty context is one BOS/EOS token).
    pub context: Arc<[u32]>,
    /// Continuation token ids (never empty).
    pub continuation: Vec<u32>,
}

/// The model's answer to a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogLikelihood {
    /// Sum over the continuation tokens of log P(token | everything before it).
    pub logprob: f64,
    /// Every continuation token is the argmax of its position's logits.
    pub is_greedy: bool,
}

impl Request {
    /// The tokens to feed the model and the position whose logits score the first continuation token.
    ///
    /// As lm-evaluation-harness `_loglikelihood_tokens`: `(context + continuation)[-(max_len + 1):][:-1]`;
    /// the logits at positions `first..` predict the continuation tokens in order.
    pub fn model_input(&self, max_len: usize) -> (Vec<u32>, usize) {
        let mut whole: Vec<u32> = Vec::with_capacity(self.context.len() + self.continuation.len());
        whole.extend_from_slice(&self.context);
        whole.extend_from_slice(&self.continuation);
        let start = whole.len().saturating_sub(max_len + 1);
        whole.drain(..start);
        whole.pop();
        let first = whole.len().saturating_sub(self.continuation.len());
        (whole, first)
    }
}

/// Python's `str.isspace`, which `context.rstrip()` uses: Unicode White_Space plus U+001C–U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Context and continuation token ids for one request, exactly as lm-evaluation-harness `_encode_pair`.
///
/// Trailing whitespace of the context moves to the front of the continuation; the continuation's ids are
/// `encode(context + continuation)[len(encode(context))..]`, so tokens merging across the boundary are
/// attributed to the continuation. No special tokens are added. An empty context is `[prefix]`
/// (`HFLM.prefix_token_id`: BOS, else EOS) and the continuation is encoded on its own.
pub fn encode_pair(
    tokenizer: &dyn Tokenizer,
    prefix: u32,
    context: &str,
    continuation: &str,
) -> (Vec<u32>, Vec<u32>) {
    if context.is_empty() {
        return (vec![prefix], tokenizer.encode(continuation, false));
    }
    let trimmed = context.trim_end_matches(is_python_space);
    let (context, moved) = context.split_at(trimmed.len());
    let joined = format!("{context}{moved}{continuation}");
    let whole = tokenizer.encode(&joined, false);
    let context_ids = tokenizer.encode(context, false);
    let continuation_ids = whole.get(context_ids.len()..).unwrap_or_default().to_vec();
    (context_ids, continuation_ids)
}

/// The requests of one document: its context encoded once and each continuation as [`encode_pair`]
/// would encode it (the same ids, without re-encoding the context per continuation).
pub fn encode_doc(
    tokenizer: &dyn Tokenizer,
    prefix: u32,
    context: &str,
    continuations: &[String],
) -> (Arc<[u32]>, Vec<Vec<u32>>) {
    if context.is_empty() {
        let conts = continuations
            .iter()
            .map(|c| tokenizer.encode(c, false))
            .collect();
        return (Arc::from(vec![prefix]), conts);
    }
    let trimmed = context.trim_end_matches(is_python_space);
    let moved = &context[trimmed.len()..];
    let context_ids = tokenizer.encode(trimmed, false);
    let conts = continuations
        .iter()
        .map(|c| {
            let whole = tokenizer.encode(&format!("{trimmed}{moved}{c}"), false);
            whole.get(context_ids.len()..).unwrap_or_default().to_vec()
        })
        .collect();
    (Arc::from(context_ids), conts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per character (id = code point), which makes the boundary handling visible.
    struct Chars;
    impl Tokenizer for Chars {
        fn encode(&self, text: &str, _add_bos: bool) -> Vec<u32> {
            text.chars().map(u32::from).collect()
        }
        fn decode(&self, ids: &[u32]) -> String {
            ids.iter().filter_map(|&i| char::from_u32(i)).collect()
        }
        fn bos_id(&self) -> Option<u32> {
            Some(1)
        }
        fn eos_id(&self) -> Option<u32> {
            Some(2)
        }
        fn vocab_size(&self) -> usize {
            0x11_0000
        }
    }

    /// Merges "A: " into one token, so the context's last token changes when the space moves.
    struct Merging;
    impl Tokenizer for Merging {
        fn encode(&self, text: &str, _add_bos: bool) -> Vec<u32> {
            let mut out = Vec::new();
            let mut rest = text;
            while !rest.is_empty() {
                if let Some(r) = rest.strip_prefix("A: ") {
                    out.push(1000);
                    rest = r;
                } else if let Some(c) = rest.chars().next() {
                    out.push(u32::from(c));
                    rest = &rest[c.len_utf8()..];
                }
            }
            out
        }
        fn decode(&self, _ids: &[u32]) -> String {
            String::new()
        }
        fn bos_id(&self) -> Option<u32> {
            None
        }
        fn eos_id(&self) -> Option<u32> {
            Some(2)
        }
        fn vocab_size(&self) -> usize {
            2000
        }
    }

    #[test]
    fn trailing_space_moves_to_the_continuation() {
        let (c, k) = encode_pair(&Chars, 1, "Q: x\nA: ", "3");
        assert_eq!(Chars.decode(&c), "Q: x\nA:");
        assert_eq!(Chars.decode(&k), " 3");
    }

    #[test]
    fn python_whitespace_includes_separators() {
        let (c, k) = encode_pair(&Chars, 1, "a\u{1f}\u{a0}\t", "b");
        assert_eq!(Chars.decode(&c), "a");
        assert_eq!(Chars.decode(&k), "\u{1f}\u{a0}\tb");
    }

    #[test]
    fn boundary_merge_is_attributed_to_the_continuation() {
        // context "xA:" → [x, A, :]; whole "xA: y" → [x, 1000, y]: the continuation is whole[3..] = [].
        // lm-evaluation-harness gives exactly this (an empty continuation), which the runner reports.
        let (c, k) = encode_pair(&Merging, 2, "xA:", " y");
        assert_eq!(c, vec![120, 65, 58]);
        assert!(k.is_empty());
        let (c, k) = encode_pair(&Merging, 2, "x", "A: y");
        assert_eq!(c, vec![120]);
        assert_eq!(k, vec![1000, 121]);
    }

    #[test]
    fn encode_doc_agrees_with_encode_pair() {
        let conts = vec!["A: y".to_string(), " z".to_string()];
        for ctx in ["x", "xA: ", "", "q \n"] {
            let (c, ks) = encode_doc(&Merging, 9, ctx, &conts);
            for (k, cont) in ks.iter().zip(&conts) {
                assert_eq!(
                    (c.to_vec(), k.clone()),
                    encode_pair(&Merging, 9, ctx, cont),
                    "{ctx:?} {cont:?}"
                );
            }
        }
    }

    #[test]
    fn empty_context_is_the_prefix_token() {
        let (c, k) = encode_pair(&Chars, 7, "", " ok");
        assert_eq!(c, vec![7]);
        assert_eq!(Chars.decode(&k), " ok");
    }

    #[test]
    fn model_input_drops_the_last_token_and_truncates_left() {
        let req = Request {
            context: Arc::from(vec![1, 2, 3]),
            continuation: vec![4, 5],
        };
        assert_eq!(req.model_input(100), (vec![1, 2, 3, 4], 2));
        // max_len 3: keep the last 4 tokens [2,3,4,5], feed [2,3,4]; logits at 1.. predict 4 and 5.
        assert_eq!(req.model_input(3), (vec![2, 3, 4], 1));
    }
}
