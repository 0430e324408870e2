//! The basic path: compile each language, feed stdin, read stdout, see each limit's status.

use std::time::Duration;

use hone_sandbox::{Language, Limits, RunStatus};

use crate::support::{program, sandbox};

#[test]
fn c_program_echoes_sum_of_stdin() {
    let p = program(
        Language::C,
        "#include <stdio.h>\nint main(void){ long a,b; if(scanf(\"%ld %ld\",&a,&b)!=2) return 2; printf(\"%ld\\n\", a+b); return 0; }\n",
    );
    let outcome = sandbox().run(&p, b"40 2\n", &Limits::default()).unwrap();
    assert_eq!(outcome.status, RunStatus::Ok, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, b"42\n");
    assert!(outcome.fuel_used > 0);
    assert!(outcome.peak_memory_bytes > 0);
}

#[test]
fn rust_program_reads_all_stdin() {
    let p = program(
        Language::Rust,
        "use std::io::Read;\nfn main(){ let mut s=String::new(); std::io::stdin().read_to_string(&mut s).unwrap(); let n: u64 = s.split_whitespace().map(|t| t.parse::<u64>().unwrap()).sum(); println!(\"{n}\"); }\n",
    );
    let outcome = sandbox().run(&p, b"1 2 3 4\n", &Limits::default()).unwrap();
    assert_eq!(outcome.status, RunStatus::Ok, "{}", outcome.stderr);
    assert_eq!(outcome.stdout_text(), "10\n");
}

#[test]
fn exit_codes_are_reported() {
    let p = program(
        Language::C,
        "#include <stdlib.h>\nint main(void){ exit(7); }\n",
    );
    let outcome = sandbox().run(&p, b"", &Limits::default()).unwrap();
    assert_eq!(outcome.status, RunStatus::Exit { code: 7 });
    let p = program(Language::Rust, "fn main(){ std::process::exit(0) }\n");
    assert_eq!(
        sandbox().run(&p, b"", &Limits::default()).unwrap().status,
        RunStatus::Ok
    );
}

#[test]
fn infinite_loop_ends_by_fuel_and_by_timeout() {
    let p = program(
        Language::C,
        "int main(void){ volatile int x=0; for(;;) x++; }\n",
    );
    let outcome = sandbox()
        .run(
            &p,
            b"",
            &Limits {
                fuel: Some(1_000_000),
                ..Limits::default()
            },
        )
        .unwrap();
    assert_eq!(outcome.status, RunStatus::FuelExhausted);
    assert!(outcome.fuel_used >= 1_000_000 - 100);
    let outcome = sandbox()
        .run(
            &p,
            b"",
            &Limits {
                fuel: None,
                timeout: Duration::from_millis(200),
                ..Limits::default()
            },
        )
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Timeout);
    assert!(outcome.wall < Duration::from_secs(5));
}

#[test]
fn memory_bomb_is_memory_exceeded() {
    let p = program(
        Language::C,
        "#include <stdlib.h>\n#include <string.h>\nchar *volatile keep;\nint main(void){ for(;;){ char*p=malloc(1<<20); if(!p) return 3; memset(p,1,1<<20); keep=p; } }\n",
    );
    let outcome = sandbox()
        .run(
            &p,
            b"",
            &Limits {
                memory_bytes: 32 << 20,
                ..Limits::default()
            },
        )
        .unwrap();
    assert_eq!(outcome.status, RunStatus::MemoryExceeded);
    assert!(outcome.peak_memory_bytes <= 32 << 20);
}

#[test]
fn output_flood_is_output_exceeded() {
    let p = program(
        Language::C,
        "#include <stdio.h>\nint main(void){ for(;;) puts(\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"); }\n",
    );
    let outcome = sandbox()
        .run(
            &p,
            b"",
            &Limits {
                stdout_bytes: 1 << 20,
                ..Limits::default()
            },
        )
        .unwrap();
    assert_eq!(
        outcome.status,
        RunStatus::OutputExceeded {
            stream: "stdout".into()
        }
    );
    assert_eq!(outcome.stdout.len(), 1 << 20);
}

#[test]
fn wat_module_runs_and_unreachable_traps() {
    let p = program(
        Language::Wat,
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#,
    );
    let outcome = sandbox().run(&p, b"", &Limits::default()).unwrap();
    match outcome.status {
        RunStatus::RuntimeError { trap, .. } => assert_eq!(trap, "unreachable"),
        other => panic!("expected a trap, got {other}"),
    }
}
