//! The project's Markdown stays true: no dangling links (every relative link names a file that
//! exists, every `#anchor` a heading of that page, as GitHub renders it), every repository path
//! written in backticks exists, and docs/DEPLOY.md shows the very files the deployment journey
//! runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Directories that hold other projects' Markdown or build output.
const SKIPPED: [&str; 6] = [
    "target",
    "node_modules",
    ".git",
    ".venv",
    "test-results",
    "corpus",
];

fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) {
                markdown_files(&path, found);
            }
        } else if name.ends_with(".md") {
            found.push(path);
        }
    }
}

/// The lines outside fenced code blocks.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut fenced = false;
    text.lines().filter(move |line| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The targets of `[text](target)` links outside code blocks and code spans.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose_lines(text) {
        // Drop code spans: `[a](b)` inside backticks is an example, not a link.
        let plain: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = plain.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            found.push(rest[..end].trim().to_owned());
            rest = &rest[end..];
        }
    }
    found
}

/// A heading's anchor as GitHub makes it: lower case, spaces to hyphens, other punctuation gone.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c.to_lowercase().next().unwrap_or(c)),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            !fenced && line.starts_with('#')
        })
        .map(|line| slug(line.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(files.len() >= 5, "found only {files:?}");
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") || link.is_empty() {
                continue;
            }
            let (target, anchor) = match link.split_once('#') {
                Some((target, anchor)) => (target, Some(anchor)),
                None => (link.as_str(), None),
            };
            let target = match target {
                "" => file.clone(),
                relative => file.parent().unwrap().join(relative),
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", file.display()));
                continue;
            }
            if let Some(anchor) = anchor {
                let page = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&page).contains(anchor) {
                    broken.push(format!("{}: {link} (no such heading)", file.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "dangling links:\n{}", broken.join("\n"));
}

#[test]
fn slugs_are_githubs() {
    assert_eq!(
        slug(" Cross-origin use: CORS and CSRF"),
        "cross-origin-use-cors-and-csrf"
    );
    assert_eq!(slug(" `GET /notifications`"), "get-notifications");
    let text = "[a](x.md#b) `[c](d)` [e](#f)\n```\n[g](h)\n```\n";
    assert_eq!(links(text), ["x.md#b", "#f"]);
}

#[test]
fn deploy_md_shows_the_files_the_deployment_journey_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let page = std::fs::read_to_string(root.join("docs/DEPLOY.md")).unwrap();
    for file in ["deploy/nginx.conf", "deploy/belfry@.service"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(
            page.contains(&text),
            "docs/DEPLOY.md no longer shows {file} as it is"
        );
    }
}

/// The top-level directories whose paths the docs name in backticks (`server/src/lib.rs`).
const REPOSITORY_DIRS: [&str; 13] = [
    "app/",
    "bench/",
    "deploy/",
    "docs/",
    "embed/",
    "end2end/",
    "examples/",
    "frontend/",
    "fuzz/",
    "public/",
    "scripts/",
    "server/",
    "style/",
];

/// The code spans outside code blocks that name a path in the repository.
fn repository_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose_lines(text) {
        for span in line.split('`').skip(1).step_by(2) {
            let path = span.trim_end_matches('/');
            let plain = !path.contains([' ', '*', '{', '<', '?', '$', ':']);
            // `app/ssr`, `app/hydrate`: a crate's feature, as cargo writes it.
            let feature = ["app/ssr", "app/hydrate", "app/csr", "app/browser"].contains(&path);
            if feature {
                continue;
            }
            if plain && REPOSITORY_DIRS.iter().any(|dir| span.starts_with(dir)) {
                found.push(path.to_owned());
            }
        }
    }
    found
}

#[test]
fn paths_the_docs_name_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    let mut missing = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for path in repository_paths(&text) {
            if !root.join(&path).exists() {
                missing.insert(format!(
                    "{}: `{path}`",
                    file.strip_prefix(&root).unwrap_or(file).display()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths the docs name that do not exist:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
