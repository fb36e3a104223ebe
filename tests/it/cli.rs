//! The command line itself: its help text, and which commands may bring a data directory
//! into being (issue 10).

use crate::support::keyward;

/// One command, subcommand, argument or option as `--help` lists it.
struct Entry {
    section: String,
    name: String,
    description: String,
}

/// The entries of every section of a help text ("Commands:", "Arguments:", "Options:").
/// clap prints an entry either on one line (`  --name <NAME>  Text`) or, when the names are
/// long, with its text indented on the lines below; both are read here.
fn entries(help: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut section = None;
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        if line.trim().is_empty() {
            continue;
        }
        if indent == 0 {
            section = line.strip_suffix(':').map(str::to_owned);
            continue;
        }
        let Some(section) = &section else { continue };
        // Entries start at column 2 (or 6, for a long option beside `-h, --help`); text of
        // the entry above is indented further.
        if indent <= 6 {
            let text = line.trim_start();
            let (name, description) = text.split_once("  ").unwrap_or((text, ""));
            entries.push(Entry {
                section: section.clone(),
                name: name.trim().to_owned(),
                description: description.trim().to_owned(),
            });
        } else if let Some(entry) = entries.last_mut() {
            entry.description.push(' ');
            entry.description.push_str(line.trim());
        }
    }
    entries
}

/// The description without what clap adds by itself (`[default: …]`, `[env: …]`), which is
/// no explanation for an operator.
fn written_text(description: &str) -> String {
    let mut text = description.to_owned();
    for tag in ["[default: ", "[env: ", "[possible values: ", "[aliases: "] {
        while let Some(start) = text.find(tag) {
            let end = text[start..]
                .find(']')
                .map_or(text.len(), |end| start + end + 1);
            text.replace_range(start..end, "");
        }
    }
    text.trim().to_owned()
}

fn help_of(command: &[String]) -> String {
    let output = keyward()
        .args(command)
        .arg("--help")
        .output()
        .expect("keyward runs");
    assert!(output.status.success(), "{command:?} --help failed");
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

#[test]
fn issue_10_every_command_argument_and_option_has_help_text() {
    let mut missing = Vec::new();
    let mut seen = Vec::new();
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(command) = pending.pop() {
        let help = help_of(&command);
        let shown = format!("keyward {}", command.join(" "));
        let listed = entries(&help);
        assert!(
            listed.iter().any(|entry| entry.section == "Options"),
            "{shown}: no options read from its help:\n{help}"
        );
        for entry in listed {
            if entry.section == "Commands" && entry.name != "help" {
                let mut sub = command.clone();
                sub.push(entry.name.clone());
                pending.push(sub);
            }
            if written_text(&entry.description).is_empty() {
                missing.push(format!("{shown}: {} {}", entry.section, entry.name));
            }
        }
        seen.push(shown);
    }
    // The walk must have reached the leaves, or it proves nothing.
    for leaf in [
        "keyward client list",
        "keyward apikey delete",
        "keyward serve",
    ] {
        assert!(seen.iter().any(|shown| shown == leaf), "{leaf} not walked");
    }
    assert!(
        missing.is_empty(),
        "without help text:\n{}",
        missing.join("\n")
    );
}
