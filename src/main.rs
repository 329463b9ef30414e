//! The `lpipe` binary.

fn main() -> std::process::ExitCode {
    lpipe::cli::main()
}
