//! Invariants of the code's shape, held by reading the source.

use std::path::Path;

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

fn assert_no_mention(dir: &str, forbidden: &[&str], why: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    for file in rust_files(&root) {
        let text = std::fs::read_to_string(&file).expect("readable source");
        for needle in forbidden {
            assert!(
                !text.contains(needle),
                "{} mentions {needle}: {why}",
                file.display()
            );
        }
    }
}

#[test]
fn tidy_the_protocol_never_sees_http_or_storage_engines() {
    assert_no_mention(
        "src/oauth",
        &["actix_web", "actix_rt", "redb::"],
        "oauth/ is the protocol alone (ARCHITECTURE.md, Invariants)",
    );
}

#[test]
fn tidy_the_store_never_sees_http() {
    assert_no_mention(
        "src/store",
        &["actix_web", "HttpRequest", "HttpResponse"],
        "store/ never sees an HTTP type",
    );
}

#[test]
fn tidy_only_clock_reads_the_wall_clock() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in rust_files(&root) {
        if file.ends_with("clock.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        assert!(
            !text.contains("SystemTime::now"),
            "{} reads the wall clock; take `now` from clock.rs",
            file.display()
        );
    }
}

#[test]
fn tidy_no_unsafe_code() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("lib.rs");
    assert!(lib.contains("#![forbid(unsafe_code)]"));
}
