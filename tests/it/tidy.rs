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

/// A type an on-disk record may hold: primitives, byte arrays, another on-disk struct of
/// `records/` (held to the same rule, so its bytes are as fixed as the primitives'), and
/// `Vec` / `Option` of those. A domain type's serde form would make a change to `model.rs`
/// a change of bytes.
fn primitive_on_disk(ty: &str, records: &[String]) -> bool {
    let ty = ty.trim();
    if let Some(inner) = ty
        .strip_prefix("Vec<")
        .or_else(|| ty.strip_prefix("Option<"))
        .and_then(|rest| rest.strip_suffix('>'))
    {
        return primitive_on_disk(inner, records);
    }
    if let Some(length) = ty
        .strip_prefix("[u8; ")
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return length.parse::<usize>().is_ok();
    }
    matches!(ty, "u8" | "u16" | "u32" | "u64" | "bool" | "String")
        || records.iter().any(|record| record == ty)
}

/// The on-disk structs of `records/`: the file, the `struct` line and the field lines of
/// every struct that derives serde there.
type OnDisk = Vec<(std::path::PathBuf, String, Vec<String>)>;

fn on_disk_structs() -> OnDisk {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/records");
    let mut found = Vec::new();
    for file in rust_files(&root) {
        if file.ends_with("fixtures.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if !(line.starts_with("#[derive(") && line.contains("Serialize")) {
                continue;
            }
            let header = lines.next().expect("a struct after its derive");
            assert!(
                header.ends_with('{'),
                "{}: `{header}`: an on-disk record is a struct with named fields",
                file.display()
            );
            let fields = lines
                .by_ref()
                .map(str::trim)
                .take_while(|field| *field != "}")
                .filter(|field| !field.starts_with("//"))
                .map(str::to_owned)
                .collect();
            found.push((file.clone(), header.to_owned(), fields));
        }
    }
    found
}

#[test]
fn tidy_on_disk_records_hold_only_primitive_types() {
    let structs = on_disk_structs();
    let names: Vec<String> = structs
        .iter()
        .filter_map(|(_, header, _)| {
            header
                .trim()
                .strip_prefix("struct ")
                .and_then(|rest| rest.strip_suffix(" {"))
                .map(str::to_owned)
        })
        .collect();
    for (file, header, fields) in &structs {
        for field in fields {
            let (name, ty) = field
                .trim_end_matches(',')
                .split_once(": ")
                .unwrap_or_else(|| panic!("{}: field `{field}`", file.display()));
            assert!(
                primitive_on_disk(ty, &names),
                "{} `{header}`: field {name} is `{ty}`; on-disk records hold only \
                 primitive types (docs/storage-format.md §7.2)",
                file.display()
            );
        }
    }
    assert!(
        structs.len() >= 12,
        "found {} on-disk records",
        structs.len()
    );
}

#[test]
fn tidy_only_records_are_serialized_in_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    for file in rust_files(&root) {
        let relative = file.strip_prefix(&root).expect("under src/store");
        if relative.starts_with("records") || relative == Path::new("codec.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        assert!(
            !text.contains("Serialize") && !text.contains("Deserialize"),
            "{} derives serde: a stored value's bytes are an on-disk struct in store/records/",
            file.display()
        );
    }
}
