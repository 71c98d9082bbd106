//! The soak's short form (25 seconds of traffic on the debug build): mixed traffic from several users
//! against a `ragenie-server` process, then no error, memory and descriptors steady, every
//! document and message accounted for. `scripts/bench.sh soak` runs the full form.

mod support;

use std::time::Duration;

use support::ServerProcess;
use support::soak::{SoakConfig, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_traffic_for_twenty_five_seconds_loses_nothing_and_leaks_nothing() {
    let (_fakes, urls) = ragenie_fake_providers::spawn(Default::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_ragenie-server")),
        &dir.path().join("data"),
        &[
            ("RAGENIE_OPENAI_BASE_URL", urls.openai.clone()),
            ("OPENAI_API_KEY", "soak-key".into()),
        ],
    )
    .await
    .unwrap();
    let report = run(
        &server,
        &SoakConfig {
            duration: Duration::from_secs(25),
            rate: 8.0,
            users: 4,
            seed_docs: 10,
            warmup: Duration::from_secs(12),
            model: "gpt-4o-mini".into(),
        },
    )
    .await
    .unwrap();
    println!("{}", report.table());
    assert!(report.requests > 150, "{}", report.table());
    assert!(report.messages >= 10, "{}", report.table());
    // Twenty-five seconds of a debug build on a shared machine are too short for memory to settle
    // (allocator arenas, blocking threads, the store's page cache filling): the bound here
    // catches a gross leak only; the benchmark holds the 10 % over ten minutes.
    let failures = report.failures(100.0);
    assert!(
        failures.is_empty(),
        "{failures:#?}\n{}\n{}",
        report.table(),
        server.log_text()
    );
}

/// Each sign-in's Argon2id hash allocates 19 MiB. Under glibc's malloc those blocks stayed in
/// per-thread arenas once freed: 160 sign-ins took a server from 96 MB to 516 MB resident, still
/// growing (the soak's failure). With the allocator every binary now uses, memory levels off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_leave_resident_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_ragenie-server")),
        &dir.path().join("data"),
        &[],
    )
    .await
    .unwrap();
    let http = support::client();
    let email = "memory@soak.example";
    support::register(&http, &server.base, email).await.unwrap();
    let before = server.rss_kib();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (http, base) = (http.clone(), server.base.clone());
        clients.push(tokio::spawn(async move {
            for _ in 0..16 {
                let (status, _) = support::login(&http, &base, email).await.unwrap();
                assert_eq!(status, 200);
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let after = server.rss_kib();
    // Four hashes at once hold 4 × 19 MiB while they run; anything far beyond is kept garbage
    // (glibc: +320 MB after 40 sign-ins).
    assert!(
        after < before + 160 * 1024,
        "resident memory {} MB → {} MB after 64 sign-ins",
        before / 1024,
        after / 1024
    );
}
