//! Sweep cost tracks what expired, not what is stored (issue 4).
//!
//! Fills a database with live codes plus expired ones, then times `sweep_once`. Reported
//! as ratios within one run: the same expired count over ten times the live records should
//! cost about the same; ten times the expired count about ten times as much.
//!
//! `cargo bench --bench sweep` (KEYWARD_BENCH_LIVE overrides the large live count;
//! KEYWARD_BENCH_STARTUP_ONLY=1 measures only `serve` startup over that many records).

use std::time::Instant;

use keyward::model::{ClientId, Id, Scope, SecretHash, UserId};
use keyward::store::{CodeGrant, KeyLocation, NewCode, OpenOptions, Store};
use keyward::sweep::sweep_once;

const FAR_FUTURE: u64 = 4_000_000_000;
const EXPIRED_AT: u64 = 1_000;
const SWEEP_AT: u64 = 2_000;

fn code(id: Id, expires_at: u64) -> NewCode {
    NewCode {
        id,
        secret_hash: SecretHash::of("bench"),
        grant: CodeGrant {
            client_id: ClientId(Id::from_bytes([1; 16])),
            user_id: UserId(Id::from_bytes([2; 16])),
            redirect_uri: "https://app.example/callback".into(),
            redirect_uri_sent: true,
            scope: Scope::parse("openid profile").expect("valid scope"),
            code_challenge: None,
            nonce: None,
            auth_time: 0,
            resources: Vec::new(),
            sid: None,
        },
        expires_at,
        remember_consent: false,
        ticket: None,
    }
}

async fn fill(store: &Store, count: usize, expires_at: u64, first_millis: u64) {
    // Writes must be in flight together for the writer to batch them: spawn them, then
    // wait for all, a window at a time.
    const IN_FLIGHT: usize = 4096;
    let mut next = 0;
    while next < count {
        let chunk = IN_FLIGHT.min(count - next);
        let writes: Vec<_> = (0..chunk)
            .map(|offset| {
                let store = store.clone();
                let id = Id::generate(first_millis + (next + offset) as u64);
                tokio::spawn(async move { store.issue_code(code(id, expires_at)).await })
            })
            .collect();
        for write in writes {
            write
                .await
                .expect("task completes")
                .expect("storage works, and the code has no ticket");
        }
        next += chunk;
    }
}

/// Time from spawning `keyward serve` on `data_dir` to its "listening" line, best of three.
fn startup_seconds(data_dir: &std::path::Path) -> f64 {
    use std::io::{BufRead, BufReader};
    (0..3)
        .map(|_| {
            let started = Instant::now();
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
                .arg("--data-dir")
                .arg(data_dir)
                .args(["serve", "--listen", "127.0.0.1:0"])
                .env("KEYWARD_LOG", "warn")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("keyward starts");
            let mut line = String::new();
            BufReader::new(child.stdout.take().expect("stdout"))
                .read_line(&mut line)
                .expect("listening line");
            let elapsed = started.elapsed().as_secs_f64();
            assert!(line.starts_with("keyward listening"), "{line}");
            let _ = std::process::Command::new("kill")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
            elapsed
        })
        .fold(f64::INFINITY, f64::min)
}

async fn startup_with(live: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&OpenOptions {
        data_dir: dir.path().to_path_buf(),
        key: KeyLocation::Default(dir.path().join("master.key")),
    })
    .expect("store opens");
    fill(&store, live, FAR_FUTURE, 1_000_000).await;
    store.close().expect("store closes");
    startup_seconds(dir.path())
}

async fn measure(live: usize, expired: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&OpenOptions {
        data_dir: dir.path().to_path_buf(),
        key: KeyLocation::Default(dir.path().join("master.key")),
    })
    .expect("store opens");
    let filling = Instant::now();
    fill(&store, live, FAR_FUTURE, 1_000_000).await;
    fill(&store, expired, EXPIRED_AT, 9_000_000_000).await;
    eprintln!(
        "  filled {live} live + {expired} expired codes in {:.1}s",
        filling.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let counts = sweep_once(&store, SWEEP_AT).await.expect("sweep works");
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        counts.codes as usize, expired,
        "the sweep removed exactly what expired"
    );
    let again = sweep_once(&store, SWEEP_AT).await.expect("sweep works");
    assert_eq!(again.removed(), 0);
    store.close().expect("store closes");
    let startup = startup_seconds(dir.path());
    (seconds, startup)
}

fn main() {
    let large: usize = std::env::var("KEYWARD_BENCH_LIVE")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let small = large / 10;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("KEYWARD_BENCH_STARTUP_ONLY").is_some() {
        // For benches/load.py: only the startup figure, without the sweep runs.
        let startup = runtime.block_on(startup_with(large));
        println!(
            "serve startup with {large} records: {:.1} ms",
            startup * 1e3
        );
        return;
    }
    runtime.block_on(async {
        eprintln!("sweep benchmark: baseline {small} live / 10000 expired");
        let (baseline, small_startup) = measure(small, 10_000).await;
        eprintln!("large store: {large} live / 10000 expired");
        let (large_store, large_startup) = measure(large, 10_000).await;
        eprintln!("fewer expired: {small} live / 1000 expired");
        let (fewer_expired, _) = measure(small, 1_000).await;
        println!("sweep of 10000 expired among {small} live:  {:.1} ms (baseline)", baseline * 1e3);
        println!(
            "sweep of 10000 expired among {large} live: {:.1} ms ({:.2}x baseline; 10x the live records)",
            large_store * 1e3,
            large_store / baseline
        );
        println!(
            "sweep of 1000 expired among {small} live:   {:.1} ms ({:.2}x baseline; 1/10 the expired)",
            fewer_expired * 1e3,
            fewer_expired / baseline
        );
        println!(
            "serve startup with {small} records: {:.1} ms; with {large} records: {:.1} ms ({:.2}x)",
            small_startup * 1e3,
            large_startup * 1e3,
            large_startup / small_startup
        );
    });
}
