//! `lpipe export`: adapter re-export and `--merge` into a Hugging Face checkpoint, against PEFT's
//! `merge_and_unload` on the golden tiny Llama.

use std::path::PathBuf;
use std::process::Command;

use lpipe::train::merge::read_raw;
use lpipe::train::tensors::{read_mixed, read_safetensors};

fn golden_dir() -> Option<PathBuf> {
    let shared = lpipe::testing::shared()?;
    Some(shared.join("golden/lora_step"))
}

fn lpipe(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lpipe"))
        .arg("export")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn merge_writes_peft_merged_weights_and_copies_the_rest() {
    let Some(dir) = golden_dir() else { return };
    let out = lpipe::testing::scratch("export");
    let o = lpipe(&[
        "--adapter".as_ref(),
        dir.join("peft_adapter_init").as_os_str(),
        "--model".as_ref(),
        dir.join("base_model.safetensors").as_os_str(),
        "--merge".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merged = read_safetensors(&out.join("model.safetensors")).unwrap();
    let base = read_safetensors(&dir.join("base_model.safetensors")).unwrap();
    assert_eq!(
        merged.keys().collect::<Vec<_>>(),
        base.keys().collect::<Vec<_>>()
    );
    let (g, _) = read_mixed(&dir.join("lora_step.safetensors")).unwrap();
    let want = &g["merged_init.model.layers.0.self_attn.q_proj.weight"].data;
    let got = &merged["model.layers.0.self_attn.q_proj.weight"].data;
    // PEFT computes (B @ A) * scaling + W in f32: equal up to the summation order over r = 4.
    for (x, y) in got.iter().zip(want) {
        assert!((x - y).abs() <= 1e-6 * y.abs().max(1e-2), "{x} vs {y}");
    }
    assert_eq!(
        read_raw(&out.join("model.safetensors")).unwrap()["model.norm.weight"],
        read_raw(&dir.join("base_model.safetensors")).unwrap()["model.norm.weight"]
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn missing_model_and_bad_adapter_are_diagnosed() {
    let Some(dir) = golden_dir() else { return };
    let out = lpipe::testing::scratch("export-bad").join("out");
    let o = lpipe(&[
        "--adapter".as_ref(),
        dir.join("peft_adapter_init").as_os_str(),
        "--merge".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("lpipe::E704"));
    let o = lpipe(&[
        "--adapter".as_ref(),
        dir.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("lpipe::E700"));
    assert!(!out.exists());
}

#[test]
fn adapter_export_round_trips() {
    let Some(dir) = golden_dir() else { return };
    let out = lpipe::testing::scratch("export-ad");
    let src = dir.join("peft_adapter_step1");
    let o = lpipe(&[
        "--adapter".as_ref(),
        src.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(out.join("adapter_model.safetensors")).unwrap(),
        std::fs::read(src.join("adapter_model.safetensors")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&out);
}
