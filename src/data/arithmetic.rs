//! The built-in synthetic arithmetic source: `arithmetic(digits = 2, ops = [plus, minus],
//! count = 2000, seed = 1)` gives "What is 59 minus 38?" → "21", the GPT-3 arithmetic
//! phrasing used in the seed article, plus a held-out set that shares no question with training.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::error::DataError;
use super::record::Record;
use super::rng::SplitMix64;

/// An operation of the arithmetic source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithOp {
    /// `a plus b`.
    Plus,
    /// `a minus b` (the answer may be negative, as in GPT-3's data).
    Minus,
    /// `a times b`.
    Times,
}

impl ArithOp {
    /// The word used in questions and in pipeline files.
    pub fn word(self) -> &'static str {
        match self {
            ArithOp::Plus => "plus",
            ArithOp::Minus => "minus",
            ArithOp::Times => "times",
        }
    }

    /// The operation named `word`, if any.
    pub fn from_word(word: &str) -> Option<Self> {
        [ArithOp::Plus, ArithOp::Minus, ArithOp::Times]
            .into_iter()
            .find(|op| op.word() == word)
    }

    fn apply(self, a: u64, b: u64) -> i128 {
        let (a, b) = (i128::from(a), i128::from(b));
        match self {
            ArithOp::Plus => a + b,
            ArithOp::Minus => a - b,
            ArithOp::Times => a * b,
        }
    }
}

/// Parameters of the arithmetic source.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArithmeticSpec {
    /// Operands have at most this many digits (uniform in `0..10^digits`, as GPT-3's sets).
    pub digits: u32,
    /// Operations drawn uniformly.
    pub ops: Vec<ArithOp>,
    /// Number of training questions.
    pub count: usize,
    /// Number of held-out evaluation questions (disjoint from training).
    pub heldout: usize,
    /// Seed: the same spec always gives the same questions.
    pub seed: u64,
}

impl Default for ArithmeticSpec {
    fn default() -> Self {
        ArithmeticSpec {
            digits: 2,
            ops: vec![ArithOp::Plus, ArithOp::Minus],
            count: 2000,
            heldout: 200,
            seed: 1,
        }
    }
}

/// Training and held-out questions of one [`ArithmeticSpec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArithmeticSets {
    /// Training records (instruction = question, output = answer, empty input).
    pub train: Vec<Record>,
    /// Evaluation records; no question appears in `train`.
    pub heldout: Vec<Record>,
}

/// The largest operand size: the product of two 9-digit numbers still fits every integer type used.
pub const MAX_DIGITS: u32 = 9;

/// Draws `count + heldout` distinct questions for `spec`; the first `count` train, the rest are held out.
pub fn generate(spec: &ArithmeticSpec) -> Result<ArithmeticSets, DataError> {
    validate(spec)?;
    let mut ops = spec.ops.clone();
    ops.sort();
    ops.dedup();
    let side = 10u64.pow(spec.digits);
    let per_op = side * side;
    let universe = per_op * ops.len() as u64;
    // Saturating: a huge `count` from the API must give the diagnostic below, not an overflow.
    let wanted = spec.count.saturating_add(spec.heldout);
    if wanted as u64 > universe {
        return Err(DataError::Arithmetic {
            message: format!(
                "{wanted} distinct questions asked (count {} + heldout {}), but only {universe} exist",
                spec.count, spec.heldout
            ),
            help: "lower `count`/`heldout`, or raise `digits` or add ops".into(),
        });
    }
    let mut rng = SplitMix64::new(spec.seed);
    // Sparse draws use rejection; dense ones shuffle the whole (small) question space instead,
    // so the cost never explodes as `wanted` approaches `universe`.
    let codes: Vec<u64> = if (wanted as u64) * 4 <= universe {
        let mut seen = HashSet::with_capacity(wanted);
        let mut codes = Vec::with_capacity(wanted);
        while codes.len() < wanted {
            let code = rng.below(universe);
            if seen.insert(code) {
                codes.push(code);
            }
        }
        codes
    } else {
        let mut all: Vec<u64> = (0..universe).collect();
        rng.shuffle(&mut all);
        all.truncate(wanted);
        all
    };
    let mut records = codes.into_iter().map(|code| {
        let op = ops[(code / per_op) as usize];
        let (a, b) = ((code % per_op) / side, code % side);
        question(a, op, b)
    });
    let train = records.by_ref().take(spec.count).collect();
    let heldout = records.collect();
    Ok(ArithmeticSets { train, heldout })
}

/// The record for `a op b`.
pub fn question(a: u64, op: ArithOp, b: u64) -> Record {
    Record::new(
        format!("What is {a} {} {b}?", op.word()),
        "",
        op.apply(a, b).to_string(),
    )
}

fn validate(spec: &ArithmeticSpec) -> Result<(), DataError> {
    if spec.digits == 0 || spec.digits > MAX_DIGITS {
        return Err(DataError::Arithmetic {
            message: format!("`digits = {}` is out of range", spec.digits),
            help: format!("use 1 to {MAX_DIGITS} digits"),
        });
    }
    if spec.ops.is_empty() {
        return Err(DataError::Arithmetic {
            message: "`ops` is empty".into(),
            help: "list at least one of plus, minus, times: `ops = [plus, minus]`".into(),
        });
    }
    if spec.count == 0 {
        return Err(DataError::Arithmetic {
            message: "`count = 0` gives no training questions".into(),
            help: "set `count` to the number of training questions, e.g. 2000".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrasing_matches_the_seed_article() {
        let r = question(59, ArithOp::Minus, 38);
        assert_eq!(r.instruction, "What is 59 minus 38?");
        assert_eq!(r.output, "21");
        assert_eq!(question(38, ArithOp::Minus, 59).output, "-21");
        assert_eq!(question(2762, ArithOp::Plus, 2751).output, "5513");
        assert_eq!(question(12, ArithOp::Times, 11).output, "132");
    }

    #[test]
    fn deterministic_and_disjoint() {
        let spec = ArithmeticSpec::default();
        let a = generate(&spec).unwrap();
        assert_eq!(a, generate(&spec).unwrap());
        assert_eq!((a.train.len(), a.heldout.len()), (2000, 200));
        let train: HashSet<_> = a.train.iter().map(|r| &r.instruction).collect();
        assert_eq!(train.len(), 2000, "training questions are distinct");
        assert!(a.heldout.iter().all(|r| !train.contains(&r.instruction)));
        let other = generate(&ArithmeticSpec { seed: 2, ..spec }).unwrap();
        assert_ne!(a.train, other.train);
    }

    #[test]
    fn answers_are_correct_and_operands_in_range() {
        let sets = generate(&ArithmeticSpec::default()).unwrap();
        for r in sets.train.iter().chain(&sets.heldout) {
            let words: Vec<&str> = r.instruction.trim_end_matches('?').split(' ').collect();
            let [_, _, a, op, b] = words[..] else {
                panic!("{}", r.instruction)
            };
            let (a, b): (i64, i64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!((0..100).contains(&a) && (0..100).contains(&b));
            let want = if op == "plus" { a + b } else { a - b };
            assert_eq!(r.output, want.to_string());
        }
    }

    #[test]
    fn dense_requests_use_every_question_once() {
        let spec = ArithmeticSpec {
            digits: 1,
            ops: vec![ArithOp::Plus],
            count: 90,
            heldout: 10,
            seed: 5,
        };
        let sets = generate(&spec).unwrap();
        let all: HashSet<_> = sets
            .train
            .iter()
            .chain(&sets.heldout)
            .map(|r| r.instruction.clone())
            .collect();
        assert_eq!(all.len(), 100);
        let too_many = ArithmeticSpec {
            count: 100,
            heldout: 1,
            ..spec
        };
        assert!(matches!(
            generate(&too_many),
            Err(DataError::Arithmetic { .. })
        ));
    }

    #[test]
    fn bad_specs_are_diagnosed() {
        for spec in [
            ArithmeticSpec {
                digits: 0,
                ..Default::default()
            },
            ArithmeticSpec {
                digits: 10,
                ..Default::default()
            },
            ArithmeticSpec {
                ops: vec![],
                ..Default::default()
            },
            ArithmeticSpec {
                count: 0,
                ..Default::default()
            },
            ArithmeticSpec {
                count: usize::MAX,
                ..Default::default()
            },
        ] {
            assert!(matches!(generate(&spec), Err(DataError::Arithmetic { .. })));
        }
    }
}
