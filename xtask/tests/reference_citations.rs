//! Every fact the code relies on about the reference system is in the repository, in
//! `docs/reference-behaviour.md`, and citations of it can be followed.
//!
//! In: every text file of the workspace (directories `.git` and Cargo target directories, which carry a
//! `CACHEDIR.TAG`, are skipped). Out: one failure listing every problem with its file and line:
//! - a citation of the page (its path, `#` and an anchor) whose anchor the page does not define;
//! - a heading of the page without its `<a id="…"></a>` line right above, an anchor defined twice or not
//!   written in lower-case letters, digits and `-`, a link `](#anchor)` inside the page to a missing anchor;
//! - a section sign (numbered-section citation) anywhere except after an RFC number (`RFC 1035 §2.3.4`);
//! - a mention of the specification notes outside the repository that the page replaces.
//!
//! The strings searched for are assembled with `concat!` so that this file does not match itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The page, relative to the workspace root.
const PAGE: &str = concat!("docs/reference-behaviour", ".md");
/// What a citation of the page starts with; the anchor follows.
const CITATION: &str = concat!("reference-behaviour", ".md#");
/// Names of the outside specification notes: citing them sends a reader where they cannot follow.
const OUTSIDE: [&str; 4] = [
    concat!("compat", ".md"),
    concat!("shared", "/spec"),
    concat!("..", "/shared"),
    concat!("/work", "/shared"),
];
const SECTION_SIGN: char = '\u{a7}';
/// Files larger than this are data, not text anyone cites from.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// One problem, where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Problem {
    file: String,
    line: usize,
    what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

fn is_anchor_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// The anchors the page defines (name → line), and the problems with its structure.
fn page_anchors(file: &str, text: &str) -> (BTreeMap<String, usize>, Vec<Problem>) {
    let mut anchors = BTreeMap::new();
    let mut problems = Vec::new();
    let mut in_code = false;
    let mut previous = "";
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            previous = line;
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix("<a id=\"")
            .and_then(|rest| rest.strip_suffix("\"></a>"))
        {
            if name.is_empty() || !name.chars().all(is_anchor_char) {
                problems.push(Problem {
                    file: file.to_owned(),
                    line: number,
                    what: format!("anchor {name:?}: use lower-case letters, digits and `-`"),
                });
            } else if let Some(first) = anchors.insert(name.to_owned(), number) {
                problems.push(Problem {
                    file: file.to_owned(),
                    line: number,
                    what: format!("anchor {name:?} is already defined on line {first}"),
                });
            }
        }
        let is_heading = line.starts_with("##") && line.trim_start_matches('#').starts_with(' ');
        if is_heading && !previous.trim().starts_with("<a id=\"") {
            problems.push(Problem {
                file: file.to_owned(),
                line: number,
                what: format!("heading {line:?} has no `<a id=\"…\"></a>` line right above it"),
            });
        }
        previous = line;
    }
    (anchors, problems)
}

/// Whether the section sign at byte `at` of `line` follows an RFC number (`RFC 8200 §4`).
fn cites_an_rfc(line: &str, at: usize) -> bool {
    let before = line[..at].trim_end();
    let without_number = before.trim_end_matches(|c: char| c.is_ascii_digit());
    without_number.len() < before.len() && without_number.trim_end().ends_with("RFC")
}

/// The citations of the page in `text` (anchor, line), and the problems that need no anchor list.
fn scan(file: &str, text: &str) -> (Vec<(String, usize)>, Vec<Problem>) {
    let mut citations = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let mut rest = line;
        while let Some(at) = rest.find(CITATION) {
            let after = &rest[at + CITATION.len()..];
            let anchor: String = after.chars().take_while(|c| is_anchor_char(*c)).collect();
            citations.push((anchor, number));
            rest = after;
        }
        for (at, _) in line.match_indices(SECTION_SIGN) {
            if !cites_an_rfc(line, at) {
                problems.push(Problem {
                    file: file.to_owned(),
                    line: number,
                    what: format!(
                        "cites a numbered section: cite {PAGE}#<anchor> (or an RFC by number) instead: {}",
                        line.trim()
                    ),
                });
            }
        }
        for name in OUTSIDE {
            if line.contains(name) {
                problems.push(Problem {
                    file: file.to_owned(),
                    line: number,
                    what: format!(
                        "names {name:?}, which is not in the repository: restate the fact in {PAGE} and cite it"
                    ),
                });
            }
        }
    }
    (citations, problems)
}

/// Links inside the page (`](#anchor)`), with their lines.
fn internal_links(text: &str) -> Vec<(String, usize)> {
    let mut links = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("](#") {
            let after = &rest[at + 3..];
            let anchor: String = after.chars().take_while(|c| *c != ')').collect();
            links.push((anchor, index + 1));
            rest = after;
        }
    }
    links
}

/// Every file under `dir` worth reading, skipping `.git` and Cargo target directories.
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.join("CACHEDIR.TAG").exists() {
        return;
    }
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.file_name().is_some_and(|name| name == ".git") {
            continue;
        }
        let metadata = fs::symlink_metadata(&path).expect("metadata");
        if metadata.is_dir() {
            text_files(&path, out);
        } else if metadata.is_file() && metadata.len() <= MAX_FILE_BYTES {
            out.push(path);
        }
    }
}

/// Checks the tree at `root`: the problems, and how many citations were found.
fn check_tree(root: &Path) -> (Vec<Problem>, usize) {
    let page_text = fs::read_to_string(root.join(PAGE)).unwrap_or_else(|e| panic!("reading {PAGE}: {e}"));
    let (anchors, mut problems) = page_anchors(PAGE, &page_text);
    for (anchor, line) in internal_links(&page_text) {
        if !anchors.contains_key(&anchor) {
            problems.push(Problem {
                file: PAGE.to_owned(),
                line,
                what: format!("links to #{anchor}, which the page does not define"),
            });
        }
    }
    let mut files = Vec::new();
    text_files(root, &mut files);
    let mut cited = 0;
    for path in files {
        let Ok(text) = fs::read_to_string(&path) else {
            continue; // not UTF-8: binary data
        };
        let file = path.strip_prefix(root).unwrap_or(&path).display().to_string();
        let (citations, found) = scan(&file, &text);
        problems.extend(found);
        for (anchor, line) in citations {
            cited += 1;
            if !anchors.contains_key(&anchor) {
                problems.push(Problem {
                    file: file.clone(),
                    line,
                    what: format!("cites {PAGE}#{anchor}, which the page does not define"),
                });
            }
        }
    }
    problems.sort();
    (problems, cited)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

#[test]
fn every_citation_of_the_reference_can_be_followed() {
    let (problems, cited) = check_tree(&workspace_root());
    let report: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        problems.is_empty(),
        "{} problem(s) with citations of the reference (see {PAGE}, \"How to cite this page\"):\n{}",
        problems.len(),
        report.join("\n")
    );
    // The walk found the code's citations: an empty tree would pass the checks above for nothing.
    assert!(
        cited >= 40,
        "only {cited} citations of {PAGE} found: is the walk reading the tree?"
    );
}

#[test]
fn numbered_sections_are_refused_except_for_rfcs() {
    let (_, problems) = scan(
        "a.rs",
        "/// Identity formatting (\u{a7}2.3).\n/// RFC 1035 \u{a7}2.3.4 and RFC 8200 \u{a7}4.",
    );
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1], "{problems:?}");
    assert!(cites_an_rfc("RFC 2181 \u{a7}8", "RFC 2181 ".len()));
    assert!(!cites_an_rfc("see \u{a7}8", "see ".len()));
    assert!(
        !cites_an_rfc("2181 \u{a7}8", "2181 ".len()),
        "a number alone is not an RFC"
    );
}

#[test]
fn outside_documents_are_refused() {
    let text = format!("// see {} 2.3\n// fine\n// {}/DESIGN.md", OUTSIDE[0], OUTSIDE[2]);
    let (_, problems) = scan("a.rs", &text);
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 3], "{problems:?}");
}

#[test]
fn citations_are_found_with_their_anchors() {
    let text = format!("// ({CITATION}identity-format) and {CITATION}istio.\n// {CITATION}Bad_Anchor");
    let (citations, problems) = scan("a.rs", &text);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        citations,
        [
            ("identity-format".to_owned(), 1),
            ("istio".to_owned(), 1),
            // Stops at the first character an anchor cannot hold, so this one is reported as missing.
            (String::new(), 2),
        ]
    );
}

#[test]
fn page_structure_problems_are_found() {
    let page = "# Title\n\n<a id=\"one\"></a>\n## One\n\n## Two\n\n<a id=\"one\"></a>\n### Three\n\
                <a id=\"Bad\"></a>\n### Four\n```\n## not a heading in code\n```\n";
    let (anchors, problems) = page_anchors("page.md", page);
    assert_eq!(
        anchors.keys().collect::<BTreeSet<_>>(),
        BTreeSet::from([&"one".to_owned()])
    );
    let found: Vec<(usize, bool)> = problems
        .iter()
        .map(|p| (p.line, p.what.contains("already defined")))
        .collect();
    // Line 6: heading without anchor; line 8: `one` again; line 10: `Bad` is not a valid anchor.
    assert_eq!(found, [(6, false), (8, true), (10, false)], "{problems:?}");
    assert_eq!(
        internal_links("see [one](#one) and [two](#two)"),
        [("one".to_owned(), 1), ("two".to_owned(), 1)]
    );
}
