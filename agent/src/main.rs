//! The `hone` binary: a thin shell over `hone_agent::cli`.

fn main() -> std::process::ExitCode {
    hone_agent::cli::main()
}
