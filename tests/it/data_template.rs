//! Prompt templates: Alpaca (Stanford/LitGPT text), ChatML (SmolLM2's chat template), custom strings.

use lpipe::data::{CustomTemplate, DataError, Record, Template};

use crate::support::data::render;

#[test]
fn alpaca_matches_stanford_and_litgpt_text() {
    // Text of Stanford alpaca `PROMPT_DICT` and LitGPT `prompts.Alpaca`; the Llama 2 token ids of
    // these strings are checked against the golden file in tests/it/data_llama2.rs.
    let no_input = Record::new("Give three tips for staying healthy.", "", "1. Eat well.");
    assert_eq!(
        Template::Alpaca.prompt(&no_input),
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n\
         ### Instruction:\nGive three tips for staying healthy.\n\n### Response:\n"
    );
    let with_input = Record::new("Sum.", "2 3", "5");
    assert_eq!(
        Template::Alpaca.prompt(&with_input),
        "Below is an instruction that describes a task, paired with an input that provides further context. \
         Write a response that appropriately completes the request.\n\n\
         ### Instruction:\nSum.\n\n### Input:\n2 3\n\n### Response:\n"
    );
    assert_eq!(Template::Alpaca.response(&with_input), "5");
}

#[test]
fn chatml_matches_smollm2_chat_template() {
    let system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face".to_string();
    let template = Template::Chatml {
        system: Some(system),
    };
    let record = Record::new("What is 59 minus 38?", "", "21");
    let want = match lpipe::testing::shared() {
        Some(shared) => {
            let text =
                std::fs::read_to_string(shared.join("golden/gguf_smollm2/forward.json")).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            json["chat_template_example"]["rendered"]
                .as_str()
                .unwrap()
                .to_string()
        }
        // transformers' rendering of the same record, copied from the golden file.
        None => "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
             <|im_start|>user\nWhat is 59 minus 38?<|im_end|>\n<|im_start|>assistant\n"
            .to_string(),
    };
    assert_eq!(template.prompt(&record), want);
    let bare = Template::builtin("chatml").unwrap();
    let with_input = Record::new("Translate.", "bonjour", "hello");
    assert_eq!(
        bare.prompt(&with_input),
        "<|im_start|>user\nTranslate.\n\nbonjour<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(bare.response(&with_input), "hello");
}

#[test]
fn custom_template_splits_at_output() {
    let custom = CustomTemplate::new(
        "Q: {instruction} {{{input}}}\nA: {output}</end>",
        Some("Q: {instruction}\nA: {output}"),
    )
    .unwrap();
    let template = Template::Custom(custom);
    let r = Record::new("2+2?", "ctx", "4");
    assert_eq!(template.prompt(&r), "Q: 2+2? {ctx}\nA: ");
    assert_eq!(template.response(&r), "4</end>");
    let r = Record::new("2+2?", "", "4");
    assert_eq!(
        (template.prompt(&r), template.response(&r)),
        ("Q: 2+2?\nA: ".into(), "4".into())
    );
    // Without `{output}` the response follows the template (the `.lpipe` `template = "…"` form).
    let prompt_only = Template::Custom(CustomTemplate::new("Q: {instruction}\nA: ", None).unwrap());
    assert_eq!(
        (prompt_only.prompt(&r), prompt_only.response(&r)),
        ("Q: 2+2?\nA: ".into(), "4".into())
    );
}

#[test]
fn custom_template_errors_point_at_the_problem() {
    let cases = [
        (
            "Q: {instrucion}\nA: {output}",
            3,
            "unknown placeholder `{instrucion}` (did you mean `{instruction}`?)",
        ),
        (
            "{instruction} {output} {output}",
            23,
            "`{output}` appears more than once",
        ),
        ("{instruction} } {output}", 14, "unmatched `}`"),
        ("{instruction} {output", 14, "unclosed `{`"),
        ("just {output}", 0, "no `{instruction}` placeholder"),
    ];
    for (text, offset, message) in cases {
        match CustomTemplate::new(text, None) {
            Err(err @ DataError::Template { .. }) => {
                let DataError::Template {
                    span, message: got, ..
                } = &err
                else {
                    unreachable!()
                };
                assert_eq!((span.offset(), got.as_str()), (offset, message), "{text}");
                let rendered = render(&err);
                assert!(
                    rendered.contains("lpipe::E407") && rendered.contains(message),
                    "{rendered}"
                );
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn templates_round_trip_through_serde_and_have_distinct_identities() {
    let custom = Template::Custom(CustomTemplate::new("{instruction}={output}", None).unwrap());
    let all = [
        Template::Alpaca,
        Template::builtin("chatml").unwrap(),
        Template::Chatml {
            system: Some("s".into()),
        },
        custom,
    ];
    for t in &all {
        let json = serde_json::to_string(t).unwrap();
        assert_eq!(
            &serde_json::from_str::<Template>(&json).unwrap(),
            t,
            "{json}"
        );
    }
    let ids: std::collections::HashSet<String> = all.iter().map(Template::identity).collect();
    assert_eq!(ids.len(), all.len());
    // A bad custom template in serialized form is rejected, not accepted half-parsed.
    assert!(
        serde_json::from_str::<Template>(r#"{"custom": {"text": "{x}", "no_input": null}}"#)
            .is_err()
    );
}
