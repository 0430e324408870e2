//! The `hone` binary: a thin shell over `hone_agent::cli`.

fn main() -> std::process::ExitCode {
    // Die quietly on a closed pipe (`hone status --json | head`), as command-line tools do,
    // instead of panicking inside println!.
    // SAFETY: setting a signal disposition to its default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    hone_agent::cli::main()
}
