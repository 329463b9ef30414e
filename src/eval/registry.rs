//! Task names → tasks and groups, with lm-evaluation-harness's names.
//!
//! Single tasks: `truthfulqa_mc1`, `truthfulqa_mc2`, `arithmetic_{1dc,2da,2dm,2ds,3da,3ds,4da,4ds,5da,5ds}`,
//! `mmlu_<subject>`, `blimp_<paradigm>`. Groups: `truthfulqa` (mc1 + mc2) and `arithmetic` (all ten) only
//! expand; `mmlu` (57 subjects, or the listed `subset`) and `mmlu_{stem,humanities,social_sciences,other}`
//! report a size-weighted score; `blimp` (67 paradigms, or the `subset`) an unweighted one.

use serde::{Deserialize, Serialize};

use super::data::{blimp as blimp_data, mmlu as mmlu_data};
use super::error::{EvalError, Result};
use super::tasks::{Task, TaskKind, arithmetic};

/// MMLU's few-shot count when none is given: 5, as the MMLU paper and the Open LLM Leaderboard.
pub const MMLU_DEFAULT_FEWSHOT: usize = 5;

/// A task or group as the user names it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Task or group name.
    pub name: String,
    /// For `mmlu` and `blimp`: only these subjects or paradigms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<Vec<String>>,
    /// Few-shot examples (MMLU only; the other tasks are zero-shot by definition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_fewshot: Option<usize>,
}

impl TaskSpec {
    /// A spec with only a name.
    pub fn named(name: &str) -> Self {
        TaskSpec {
            name: name.to_string(),
            ..TaskSpec::default()
        }
    }
}

/// A group score over tasks or other groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Group name (`mmlu`, `mmlu_other`, `blimp`).
    pub name: String,
    /// Member task or group names; groups appear after their members in [`Plan::groups`].
    pub members: Vec<String>,
    /// Weight members by their number of documents (`aggregate_metric_list.weight_by_size`).
    pub weight_by_size: bool,
}

/// What to run: the tasks in order and the groups to score from them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Tasks, each once.
    pub tasks: Vec<Task>,
    /// Groups, members before the groups containing them.
    pub groups: Vec<Group>,
}

impl Plan {
    fn push_task(&mut self, task: Task) {
        if !self.tasks.iter().any(|t| t.name == task.name) {
            self.tasks.push(task);
        }
    }

    fn push_group(&mut self, group: Group) {
        if !self.groups.iter().any(|g| g.name == group.name) {
            self.groups.push(group);
        }
    }
}

const CATEGORIES: [&str; 4] = ["stem", "humanities", "social_sciences", "other"];

/// Every task and group name (for help texts and suggestions).
pub fn known_names() -> Vec<String> {
    let mut names = vec![
        "truthfulqa".to_string(),
        "truthfulqa_mc1".into(),
        "truthfulqa_mc2".into(),
    ];
    names.push("arithmetic".into());
    names.extend(arithmetic::TASKS.iter().map(|(n, _)| n.to_string()));
    names.push("mmlu".into());
    names.extend(CATEGORIES.iter().map(|c| format!("mmlu_{c}")));
    names.extend(mmlu_data::SUBJECTS.iter().map(|(s, _)| format!("mmlu_{s}")));
    names.push("blimp".into());
    names.extend(blimp_data::PARADIGMS.iter().map(|p| format!("blimp_{p}")));
    names
}

fn unknown(name: &str) -> EvalError {
    let names = known_names();
    let best = names
        .iter()
        .map(|n| (strsim::jaro_winkler(name, n), n))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8);
    let help = match best {
        Some((_, n)) => format!("did you mean `{n}`?"),
        None => "tasks: truthfulqa_mc1, truthfulqa_mc2, arithmetic_2da … arithmetic_5ds, mmlu, mmlu_<subject>, \
                 blimp, blimp_<paradigm>"
            .to_string(),
    };
    EvalError::UnknownTask {
        name: name.to_string(),
        help,
    }
}

fn zero_shot_only(spec: &TaskSpec) -> Result<()> {
    match spec.num_fewshot {
        Some(k) if k > 0 => Err(EvalError::InvalidOption {
            task: spec.name.clone(),
            message: format!("num_fewshot = {k}"),
            help: "this task is defined zero-shot in lm-evaluation-harness; only MMLU takes few-shot examples".into(),
        }),
        _ => Ok(()),
    }
}

fn no_subset(spec: &TaskSpec) -> Result<()> {
    match &spec.subset {
        Some(_) => Err(EvalError::InvalidOption {
            task: spec.name.clone(),
            message: "`subset` is given".into(),
            help: "`subset` selects subjects of `mmlu` or paradigms of `blimp`".into(),
        }),
        None => Ok(()),
    }
}

fn mmlu_task(subject: &str, k: usize) -> Task {
    Task {
        name: format!("mmlu_{subject}"),
        kind: TaskKind::Mmlu {
            subject: subject.to_string(),
        },
        num_fewshot: k,
    }
}

/// Adds MMLU subjects with their category groups and, when `top` is given, the top group.
fn add_mmlu(plan: &mut Plan, subjects: &[&str], k: usize, top: Option<&str>) {
    let mut categories = Vec::new();
    for cat in CATEGORIES {
        let members: Vec<String> = subjects
            .iter()
            .filter(|s| mmlu_data::category(s) == Some(cat))
            .map(|s| format!("mmlu_{s}"))
            .collect();
        if members.is_empty() {
            continue;
        }
        for s in subjects
            .iter()
            .filter(|s| mmlu_data::category(s) == Some(cat))
        {
            plan.push_task(mmlu_task(s, k));
        }
        let name = format!("mmlu_{cat}");
        plan.push_group(Group {
            name: name.clone(),
            members,
            weight_by_size: true,
        });
        categories.push(name);
    }
    if let Some(top) = top {
        plan.push_group(Group {
            name: top.to_string(),
            members: categories,
            weight_by_size: true,
        });
    }
}

fn subset<'a>(spec: &'a TaskSpec, all: &[&'a str], prefix: &str) -> Result<Vec<&'a str>> {
    let Some(list) = &spec.subset else {
        return Ok(all.to_vec());
    };
    let mut out = Vec::new();
    for item in list {
        let item = item.strip_prefix(prefix).unwrap_or(item);
        match all.iter().find(|a| **a == item) {
            Some(found) => out.push(*found),
            None => return Err(unknown(&format!("{prefix}{item}"))),
        }
    }
    Ok(out)
}

/// Resolves task specs into the tasks to run and the groups to score.
pub fn resolve(specs: &[TaskSpec]) -> Result<Plan> {
    let mut plan = Plan::default();
    for spec in specs {
        let name = spec.name.as_str();
        if name != "mmlu" && name != "blimp" {
            no_subset(spec)?;
        }
        if !name.starts_with("mmlu") {
            zero_shot_only(spec)?;
        }
        let k = spec.num_fewshot.unwrap_or(MMLU_DEFAULT_FEWSHOT);
        match name {
            "truthfulqa_mc1" => plan.push_task(Task {
                name: name.into(),
                kind: TaskKind::TruthfulqaMc1,
                num_fewshot: 0,
            }),
            "truthfulqa_mc2" => plan.push_task(Task {
                name: name.into(),
                kind: TaskKind::TruthfulqaMc2,
                num_fewshot: 0,
            }),
            "truthfulqa" => {
                plan.push_task(Task {
                    name: "truthfulqa_mc1".into(),
                    kind: TaskKind::TruthfulqaMc1,
                    num_fewshot: 0,
                });
                plan.push_task(Task {
                    name: "truthfulqa_mc2".into(),
                    kind: TaskKind::TruthfulqaMc2,
                    num_fewshot: 0,
                });
            }
            "arithmetic" => {
                for (n, file) in arithmetic::TASKS {
                    plan.push_task(Task {
                        name: n.into(),
                        kind: TaskKind::Arithmetic { file: file.into() },
                        num_fewshot: 0,
                    });
                }
            }
            "mmlu" => {
                let all: Vec<&str> = mmlu_data::SUBJECTS.iter().map(|(s, _)| *s).collect();
                let subjects = subset(spec, &all, "mmlu_")?;
                add_mmlu(&mut plan, &subjects, k, Some("mmlu"));
            }
            "blimp" => {
                let paradigms = subset(spec, &blimp_data::PARADIGMS, "blimp_")?;
                let mut members = Vec::new();
                for p in paradigms {
                    let task = format!("blimp_{p}");
                    members.push(task.clone());
                    plan.push_task(Task {
                        name: task,
                        kind: TaskKind::Blimp { paradigm: p.into() },
                        num_fewshot: 0,
                    });
                }
                plan.push_group(Group {
                    name: "blimp".into(),
                    members,
                    weight_by_size: false,
                });
            }
            _ => resolve_single(&mut plan, spec, k)?,
        }
    }
    Ok(plan)
}

fn resolve_single(plan: &mut Plan, spec: &TaskSpec, k: usize) -> Result<()> {
    let name = spec.name.as_str();
    if let Some((_, file)) = arithmetic::TASKS.iter().find(|(n, _)| *n == name) {
        plan.push_task(Task {
            name: name.into(),
            kind: TaskKind::Arithmetic {
                file: (*file).into(),
            },
            num_fewshot: 0,
        });
        return Ok(());
    }
    if let Some(rest) = name.strip_prefix("mmlu_") {
        if mmlu_data::category(rest).is_some() {
            plan.push_task(mmlu_task(rest, k));
            return Ok(());
        }
        if CATEGORIES.contains(&rest) {
            let subjects: Vec<&str> = mmlu_data::SUBJECTS
                .iter()
                .filter(|(_, c)| *c == rest)
                .map(|(s, _)| *s)
                .collect();
            add_mmlu(plan, &subjects, k, None);
            return Ok(());
        }
    }
    if let Some(rest) = name.strip_prefix("blimp_")
        && let Some(p) = blimp_data::PARADIGMS.iter().find(|p| **p == rest)
    {
        plan.push_task(Task {
            name: name.into(),
            kind: TaskKind::Blimp {
                paradigm: (*p).into(),
            },
            num_fewshot: 0,
        });
        return Ok(());
    }
    Err(unknown(name))
}

/// lm-evaluation-harness task specs for the stage's tasks (all but `heldout`).
pub fn task_specs(eval: &crate::ir::Eval) -> Vec<TaskSpec> {
    eval.tasks
        .iter()
        .filter_map(|task| match task {
            crate::ir::Task::Heldout { .. } => None,
            crate::ir::Task::Mmlu { subjects, shots } => Some(TaskSpec {
                name: "mmlu".into(),
                subset: (!subjects.is_empty()).then(|| subjects.clone()),
                num_fewshot: Some(*shots as usize),
            }),
            crate::ir::Task::Blimp { paradigms } => Some(TaskSpec {
                name: "blimp".into(),
                subset: (!paradigms.is_empty()).then(|| paradigms.clone()),
                num_fewshot: None,
            }),
            other => Some(TaskSpec::named(&other.name())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmlu_expands_to_57_subjects_in_four_weighted_categories() {
        let plan = resolve(&[TaskSpec::named("mmlu")]).unwrap();
        assert_eq!(plan.tasks.len(), 57);
        assert!(
            plan.tasks
                .iter()
                .all(|t| t.num_fewshot == MMLU_DEFAULT_FEWSHOT)
        );
        let names: Vec<&str> = plan.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mmlu_stem",
                "mmlu_humanities",
                "mmlu_social_sciences",
                "mmlu_other",
                "mmlu"
            ]
        );
        assert!(plan.groups.iter().all(|g| g.weight_by_size));
        let sizes: usize = plan.groups.iter().take(4).map(|g| g.members.len()).sum();
        assert_eq!(sizes, 57);
    }

    #[test]
    fn subsets_and_single_tasks() {
        let spec = TaskSpec {
            name: "mmlu".into(),
            subset: Some(vec!["global_facts".into()]),
            num_fewshot: Some(0),
        };
        let plan = resolve(&[spec, TaskSpec::named("mmlu_global_facts")]).unwrap();
        assert_eq!(plan.tasks.len(), 1, "the same task is run once");
        assert_eq!(plan.tasks[0].num_fewshot, 0);
        let spec = TaskSpec {
            name: "blimp".into(),
            subset: Some(vec!["adjunct_island".into(), "blimp_passive_1".into()]),
            num_fewshot: None,
        };
        let plan = resolve(&[spec]).unwrap();
        assert_eq!(
            plan.groups[0].members,
            ["blimp_adjunct_island", "blimp_passive_1"]
        );
        assert!(!plan.groups[0].weight_by_size);
        let plan = resolve(&[
            TaskSpec::named("arithmetic_2ds"),
            TaskSpec::named("truthfulqa"),
        ])
        .unwrap();
        let names: Vec<&str> = plan.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["arithmetic_2ds", "truthfulqa_mc1", "truthfulqa_mc2"]
        );
        assert_eq!(
            resolve(&[TaskSpec::named("blimp")]).unwrap().tasks.len(),
            67
        );
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let err = resolve(&[TaskSpec::named("truthfulqa_mc3")]).unwrap_err();
        let EvalError::UnknownTask { help, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(help.contains("truthfulqa_mc"), "{help}");
        let spec = TaskSpec {
            name: "blimp".into(),
            subset: Some(vec!["nope".into()]),
            num_fewshot: None,
        };
        assert!(matches!(
            resolve(&[spec]),
            Err(EvalError::UnknownTask { .. })
        ));
        let spec = TaskSpec {
            name: "arithmetic_2da".into(),
            subset: None,
            num_fewshot: Some(3),
        };
        assert!(matches!(
            resolve(&[spec]),
            Err(EvalError::InvalidOption { .. })
        ));
    }
}
