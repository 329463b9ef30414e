//! Every document of the acceptance tasks loads, builds its prompt and tokenizes into valid requests
//! (the model is replaced by a constant scorer); prints the request-token totals a model must score.

use lpipe::eval::{
    EvalOptions, LogLikelihood, Request, Scorer, TaskSpec, context_groups, evaluate,
    gguf_prefix_token, resolve, shared_prefix_len,
};
use lpipe::model::gguf::GgufFile;

/// Counts what it is asked; answers a constant.
#[derive(Default)]
struct Counting {
    requests: usize,
    tokens: usize,
    max_len: usize,
    /// Tokens when each document's context runs once and the call's shared prefix once.
    distinct_tokens: usize,
}

impl Scorer for Counting {
    type Error = lpipe::eval::EvalError;
    fn loglikelihood(&mut self, reqs: &[Request]) -> Result<Vec<LogLikelihood>, Self::Error> {
        for r in reqs {
            let len = r.context.len() + r.continuation.len();
            self.tokens += len;
            self.max_len = self.max_len.max(len);
            assert!(!r.context.is_empty() && !r.continuation.is_empty());
        }
        self.requests += reqs.len();
        let shared = shared_prefix_len(reqs);
        self.distinct_tokens += shared;
        for g in context_groups(reqs) {
            let ctx = reqs[g.start].context.len().saturating_sub(shared);
            self.distinct_tokens +=
                ctx + reqs[g].iter().map(|r| r.continuation.len()).sum::<usize>();
        }
        Ok(vec![
            LogLikelihood {
                logprob: -1.0,
                is_greedy: false
            };
            reqs.len()
        ])
    }
}

#[test]
fn acceptance_tasks_load_and_tokenize_completely() {
    let Some(gguf) = lpipe::testing::smollm2() else {
        return;
    };
    let Some(shared) = lpipe::testing::shared() else {
        return;
    };
    let tok = lpipe::tokenizer::load(&gguf).expect("tokenizer");
    let blimp = [
        "adjunct_island",
        "anaphor_gender_agreement",
        "determiner_noun_agreement_1",
        "irregular_past_participle_adjectives",
        "regular_plural_subject_verb_agreement_1",
    ];
    let specs = vec![
        TaskSpec::named("truthfulqa_mc1"),
        TaskSpec::named("truthfulqa_mc2"),
        TaskSpec::named("arithmetic_2ds"),
        TaskSpec::named("arithmetic_4ds"),
        TaskSpec {
            name: "mmlu".into(),
            subset: Some(vec!["global_facts".into()]),
            num_fewshot: Some(5),
        },
        TaskSpec {
            name: "blimp".into(),
            subset: Some(blimp.iter().map(|s| s.to_string()).collect()),
            num_fewshot: None,
        },
    ];
    let plan = resolve(&specs).expect("plan");
    let mut opts = EvalOptions::new(shared.join("data"));
    opts.prefix_token = gguf_prefix_token(&GgufFile::open(&gguf).expect("gguf"));
    let mut scorer = Counting::default();
    let out = evaluate(&mut scorer, &*tok, &plan, &opts, &mut |_| {}).expect("all tasks run");
    let n = |name: &str| out.report.score(name).map(|s| (s.n, s.n_total));
    assert_eq!(n("truthfulqa_mc1"), Some((817, 817)));
    assert_eq!(n("truthfulqa_mc2"), Some((817, 817)));
    assert_eq!(n("arithmetic_2ds"), Some((2000, 2000)));
    assert_eq!(n("arithmetic_4ds"), Some((2000, 2000)));
    assert_eq!(n("mmlu_global_facts"), Some((100, 100)));
    assert_eq!(n("blimp"), Some((5000, 5000)));
    assert_eq!(out.samples.len(), 817 * 2 + 4000 + 100 + 5000);
    // With every log-likelihood equal, argmax picks the first choice: MC1's true answer and BLiMP's
    // good sentence are first, so both score 1; MMLU scores the share of `A` answers.
    assert_eq!(
        out.report.score("truthfulqa_mc1").map(|s| s.value),
        Some(1.0)
    );
    assert_eq!(out.report.score("blimp").map(|s| s.value), Some(1.0));
    for s in &out.report.scores {
        println!(
            "{:28} n {:5} tokens {:9} wall {:.1}s",
            s.name, s.n, s.tokens, s.wall_s
        );
    }
    println!(
        "requests {} tokens {} longest {} distinct (context once, shared prefix once per call) {}",
        scorer.requests, scorer.tokens, scorer.max_len, scorer.distinct_tokens
    );
    assert!(scorer.distinct_tokens < scorer.tokens / 3);
}
