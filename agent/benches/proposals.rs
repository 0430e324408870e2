//! Proposals per second against the local mock server answering after 200 ms, at
//! concurrency 1, 8 and 32 (throughput should grow nearly linearly with concurrency).
//!
//! Run: `cargo bench -p hone-agent --bench proposals -- --measurement-time 5`

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hone_agent::llm::{ChatMessage, ChatRequest, OpenAiClient, OpenAiConfig, propose_with_reask};
use hone_agent::reply::{ReplyContext, parse_code_reply};
use hone_agent::testing::{MockResponse, MockServer};
use hone_sandbox::Language;
use hone_tasks::TaskKind;

const LATENCY: Duration = Duration::from_millis(200);
/// Rounds of `concurrency` proposals per measured batch.
const ROUNDS: usize = 2;

fn proposals(c: &mut Criterion) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let server = runtime.block_on(MockServer::start_with_rule(|_| {
        MockResponse::completion("Faster:\n```c\nint main(void) { return 0; }\n```")
            .with_delay(LATENCY)
    }));
    let server = match server {
        Ok(server) => server,
        Err(e) => panic!("mock server: {e}"),
    };
    let mut group = c.benchmark_group("proposals");
    group.sample_size(10);
    for concurrency in [1usize, 8, 32] {
        let config = OpenAiConfig {
            base_url: server.base_url(),
            concurrency,
            ..OpenAiConfig::default()
        };
        let client = match OpenAiClient::new(config) {
            Ok(client) => client,
            Err(e) => panic!("{e}"),
        };
        let batch = concurrency * ROUNDS;
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("concurrency_{concurrency}"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let mut tasks = Vec::with_capacity(batch);
                        for i in 0..batch {
                            let client = client.clone();
                            tasks.push(tokio::spawn(async move {
                                let request = ChatRequest::new(
                                    "mock",
                                    vec![ChatMessage::user(format!("proposal {i}"))],
                                );
                                let languages = [Language::C];
                                let context = ReplyContext {
                                    kind: TaskKind::Efficiency,
                                    languages: &languages,
                                    parent: None,
                                    variables: &[],
                                    allow_input_file: false,
                                };
                                let proposal = propose_with_reask(&client, request, |text| {
                                    parse_code_reply(text, false, &context)
                                })
                                .await;
                                matches!(proposal, Ok(p) if p.parsed.is_ok())
                            }));
                        }
                        for task in tasks {
                            assert!(matches!(task.await, Ok(true)));
                        }
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, proposals);
criterion_main!(benches);
