//! A value given on the command line (`--model 'hf("org/name")'`, `--template 'chatml(system =
//! "…")'`), read with the pipeline grammar so that a flag takes what a file takes.

use super::ast::ExprKind;

/// A command-line value: a string, or a call whose arguments are all strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagValue {
    /// `"text"`.
    Str(String),
    /// `name(…)`, with the string bound to each of its parameters, in their order.
    Call {
        /// The call's name.
        name: String,
        /// One entry per parameter; `None` when not given.
        args: Vec<Option<String>>,
    },
}

/// Reads `text`, given to `flag`, as a pipeline value; `params(name)` lists a call's parameters
/// (`None`: a call this flag does not take). Arguments bind as the checker binds them:
/// positional ones in order, then named ones. `Err` says what is wrong.
pub fn flag_value(
    flag: &str,
    text: &str,
    params: impl Fn(&str) -> Option<&'static [&'static str]>,
) -> Result<FlagValue, String> {
    let source = format!("value = {text}");
    let file = crate::source::SourceFile::virtual_file(flag, source.as_str());
    let assign = super::parser::parse_set(&file, crate::span::FileId(0))
        .map_err(|_| "not a valid expression".to_string())?;
    let (name, args) = match assign.value.kind {
        ExprKind::Str(s) => return Ok(FlagValue::Str(s)),
        ExprKind::Call { name, args } => (name.node, args),
        _ => return Err("not a string or a call".into()),
    };
    let Some(params) = params(&name) else {
        return Err(format!("`{name}(…)` is not something {flag} takes"));
    };
    let wrong = || format!("`{name}(…)` takes the strings {}", params.join(", "));
    let mut values: Vec<Option<String>> = vec![None; params.len()];
    for (i, arg) in args.into_iter().enumerate() {
        let at = match &arg.name {
            Some(n) => params.iter().position(|p| *p == n.node),
            None => Some(i),
        };
        match (at.and_then(|at| values.get_mut(at)), arg.value.kind) {
            (Some(slot), ExprKind::Str(v)) => *slot = Some(v),
            _ => return Err(wrong()),
        }
    }
    Ok(FlagValue::Call { name, args: values })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(name: &str) -> Option<&'static [&'static str]> {
        (name == "hf").then_some(&["repo", "revision"][..])
    }

    #[test]
    fn binds_positional_then_named_strings() {
        let v = flag_value("--model", r#"hf("a/b", revision = "v1")"#, params).unwrap();
        let args = vec![Some("a/b".to_string()), Some("v1".to_string())];
        assert_eq!(
            v,
            FlagValue::Call {
                name: "hf".into(),
                args
            }
        );
        assert_eq!(
            flag_value("--model", r#""x y""#, params).unwrap(),
            FlagValue::Str("x y".into())
        );
        for bad in [
            r#"hf("a", branch = "x")"#,
            "hf(1)",
            r#"hf("a", "b", "c")"#,
            "gh()",
            "hf(",
        ] {
            assert!(flag_value("--model", bad, params).is_err(), "{bad}");
        }
    }
}
