//! The copy layer's promise, checked: every `CRATE/examples/NAME.rs` builds alone in a fresh
//! project made from exactly the `[dependencies]` lines at the end of its `//!` header, and
//! README's "Copy this" block builds all of them at once.
//!
//! For each example: a project in a temporary directory (`[package]`, then the header's
//! lines, `src/main.rs` = the example) is built with `cargo build --offline`. Every line must
//! be needed: its crate appears as `name::` in the code, and each listed nix feature is
//! needed, shown by `cargo check` failing once that feature alone is removed (nix gates items,
//! not modules, so a table from paths to features would be guesswork). The projects share a
//! target directory, `target/examples-alone/`, so each dependency configuration compiles once
//! per machine, and use the workspace's Cargo.lock, so they get the versions the workspace
//! was tested with. Where cargo cannot work offline (no registry cache) the building tests
//! print why and skip; the header checks run regardless.
//!
//! Time on 2 shared cores under a load of 4: 52 s cold (every nix configuration compiles
//! once), 17 s warm (21 builds and 21 checks of one small file each, and the README build).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crates an example may use besides std (STYLE.md: the lecture's crates).
const ALLOWED: [&str; 4] = ["nix", "libc", "memmap2", "signal-hook"];

/// One line of a `[dependencies]` block: `name = "version"` or
/// `name = { version = "version", features = ["a", "b"] }`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Dep {
    name: String,
    version: String,
    features: Vec<String>,
}

impl Dep {
    /// The one spelling a header or README may use, so that blocks read alike.
    fn line(&self) -> String {
        if self.features.is_empty() {
            return format!("{} = \"{}\"", self.name, self.version);
        }
        let features: Vec<String> = self.features.iter().map(|f| format!("\"{f}\"")).collect();
        format!(
            "{} = {{ version = \"{}\", features = [{}] }}",
            self.name,
            self.version,
            features.join(", ")
        )
    }

    fn parse(line: &str) -> Result<Dep, String> {
        let (name, value) = line
            .split_once(" = ")
            .ok_or_else(|| format!("not a dependency line: {line:?}"))?;
        let (version, features) = if let Some(v) = quoted(value) {
            (v.to_string(), Vec::new())
        } else {
            let inner = value
                .strip_prefix("{ version = ")
                .and_then(|s| s.strip_suffix("] }"))
                .ok_or_else(|| format!("not a dependency line: {line:?}"))?;
            let (v, list) = inner
                .split_once(", features = [")
                .ok_or_else(|| format!("not a dependency line: {line:?}"))?;
            let features = list
                .split(", ")
                .map(|f| quoted(f).map(str::to_string))
                .collect::<Option<Vec<_>>>();
            let v = quoted(v).map(str::to_string);
            match (v, features) {
                (Some(v), Some(f)) => (v, f),
                _ => return Err(format!("not a dependency line: {line:?}")),
            }
        };
        let dep = Dep {
            name: name.to_string(),
            version,
            features,
        };
        if dep.line() != line {
            return Err(format!("write {line:?} as {:?}", dep.line()));
        }
        Ok(dep)
    }
}

/// `s` without its surrounding double quotes, if it has them.
fn quoted(s: &str) -> Option<&str> {
    s.strip_prefix('"')?.strip_suffix('"')
}

struct Example {
    name: String,
    path: PathBuf,
    source: String,
    deps: Vec<Dep>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds testkit")
        .to_path_buf()
}

/// Every `*/examples/*.rs` of the workspace, sorted by path.
fn example_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for krate in fs::read_dir(workspace()).expect("read the workspace") {
        let dir = krate.expect("workspace entry").path().join("examples");
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("examples entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths
}

/// The lines of the `[dependencies]` block that starts at the line `[dependencies]` and
/// ends at the first line that is not a dependency (a fence or an empty line).
fn block<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Vec<&'a str>> {
    let mut lines = lines.skip_while(|l| *l != "[dependencies]");
    lines.next()?;
    Some(lines.take_while(|l| l.contains(" = ")).collect())
}

/// Reads an example and its header's block; Err says what is wrong with the header.
fn read_example(path: &Path) -> Result<Example, String> {
    let name = path.file_stem().expect("file name").to_string_lossy();
    let source = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = source
        .lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l));
    let lines = block(header).ok_or_else(|| {
        format!("{name}: its //! header has no `//! [dependencies]` block (To use it alone)")
    })?;
    let deps = lines
        .into_iter()
        .map(Dep::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name}: {e}"))?;
    if !source.contains(&format!("`cargo new {name}`")) {
        return Err(format!(
            "{name}: its header does not say `cargo new {name}`"
        ));
    }
    Ok(Example {
        name: name.into_owned(),
        path: path.to_path_buf(),
        source,
        deps,
    })
}

/// Every example, read; fails naming each example whose header has no usable block.
fn examples() -> Vec<Example> {
    let paths = example_paths();
    assert!(!paths.is_empty(), "no examples under {:?}", workspace());
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for path in paths {
        match read_example(&path) {
            Ok(example) => found.push(example),
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    found
}

/// The version `[workspace.dependencies]` declares for `name` (a line `name = "v"` or
/// `name = { version = "v", ...`).
fn workspace_version(name: &str) -> String {
    let manifest = fs::read_to_string(workspace().join("Cargo.toml")).expect("Cargo.toml");
    let line = manifest
        .lines()
        .find(|l| l.starts_with(&format!("{name} = ")))
        .unwrap_or_else(|| panic!("{name} is not in [workspace.dependencies]"));
    let start = line.find('"').expect("a quoted version") + 1;
    let len = line[start..].find('"').expect("a closing quote");
    line[start..start + len].to_string()
}

/// What is wrong with an example's lines without building: crates and versions that are
/// not the workspace's, a crate the code never names, features out of order.
fn lint(example: &Example) -> Vec<String> {
    let code: String = example
        .source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut errors = Vec::new();
    if !example.deps.is_sorted_by(|a, b| a.name < b.name) {
        errors.push(format!(
            "{}: list the crates once each, by name",
            example.name
        ));
    }
    let mut names = BTreeSet::new();
    for dep in &example.deps {
        let who = format!("{}: {}", example.name, dep.name);
        if !names.insert(&dep.name) {
            errors.push(format!("{who} is listed twice"));
        }
        if !ALLOWED.contains(&dep.name.as_str()) {
            errors.push(format!(
                "{who} is not one of the lecture's crates {ALLOWED:?}"
            ));
            continue;
        }
        let version = workspace_version(&dep.name);
        if dep.version != version {
            errors.push(format!(
                "{who} {} is not the workspace's {version}",
                dep.version
            ));
        }
        if !code.contains(&format!("{}::", dep.name.replace('-', "_"))) {
            errors.push(format!("{who} is listed but the code never uses it"));
        }
        let mut sorted = dep.features.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != dep.features {
            errors.push(format!("{who}: list the features once each, sorted"));
        }
        if dep.name != "nix" && !dep.features.is_empty() {
            errors.push(format!("{who}: only nix takes features here"));
        }
    }
    errors
}

#[test]
fn every_example_has_a_header_block_with_lines_it_uses() {
    let errors: Vec<String> = examples().iter().flat_map(lint).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// A project directory under the temporary directory, removed when dropped.
struct Project(PathBuf);

impl Project {
    /// `[package]` named `name`, then `body` (the `[dependencies]` block and maybe more).
    fn new(name: &str, body: &str) -> Project {
        let dir = std::env::temp_dir().join(testkit::unique("ipc-tour-alone"));
        fs::create_dir_all(dir.join("src")).expect("make the project directory");
        let project = Project(dir);
        project.manifest(name, body);
        // The workspace's lock: the versions it was tested with, and all in the local cache.
        // Cargo drops the entries this project does not need.
        let lock = fs::read_to_string(workspace().join("Cargo.lock")).expect("Cargo.lock");
        project.write("Cargo.lock", &lock);
        project
    }

    /// Cargo.toml: what `cargo new` writes (the edition of today's cargo), then `body`.
    fn manifest(&self, name: &str, body: &str) {
        let package =
            format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n");
        self.write("Cargo.toml", &format!("{package}\n{body}"));
    }

    fn write(&self, file: &str, text: &str) {
        fs::write(self.0.join(file), text).unwrap_or_else(|e| panic!("write {file}: {e}"));
    }

    /// `cargo SUBCOMMAND --offline` in the project, with the shared target directory.
    fn cargo(&self, subcommand: &str) -> Output {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        // The outer `cargo test` describes its own package in CARGO_* variables; none of
        // that is the fresh project's. CARGO_HOME (where the registry cache lives) stays.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("CARGO_") && key != "CARGO_HOME" {
                command.env_remove(key);
            }
        }
        command
            .args([subcommand, "--offline", "--quiet"])
            .current_dir(&self.0)
            .env(
                "CARGO_TARGET_DIR",
                workspace().join("target/examples-alone"),
            )
            // Nobody runs or debugs these binaries: without debug info they link sooner.
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .output()
            .unwrap_or_else(|e| panic!("run cargo {subcommand}: {e}"))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The `[dependencies]` block made of `deps`.
fn dependencies(deps: &[Dep]) -> String {
    let mut block = String::from("[dependencies]\n");
    for dep in deps {
        let _ = writeln!(block, "{}", dep.line());
    }
    block
}

/// Whether cargo can build offline here: Err(why) only when it cannot reach a crate without
/// the network (no registry cache); any other failure of the probe fails the test.
fn offline_cargo_works() -> Result<(), String> {
    let deps: Vec<Dep> = ALLOWED
        .iter()
        .map(|name| Dep {
            name: name.to_string(),
            version: workspace_version(name),
            features: Vec::new(),
        })
        .collect();
    let project = Project::new("offline_probe", &dependencies(&deps));
    project.write("src/main.rs", "fn main() {}\n");
    let out = project.cargo("check");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(())
    } else if stderr.contains("offline") {
        Err(stderr)
    } else {
        panic!("a project of the four crates does not build offline:\n{stderr}");
    }
}

/// True (after saying why) when `test` must skip because cargo cannot work offline.
fn skip_unless_offline_works(test: &str) -> bool {
    match offline_cargo_works() {
        Ok(()) => false,
        Err(why) => {
            println!("{test} SKIPPED: cargo cannot work offline here (no registry cache):\n{why}");
            true
        }
    }
}

fn failure(what: &str, out: &Output) -> String {
    format!("{what}:\n{}", String::from_utf8_lossy(&out.stderr))
}

/// Builds one example from its lines; then, per nix feature, checks that the example does
/// not compile without it. Returns what went wrong.
fn build_alone(example: &Example) -> Vec<String> {
    let project = Project::new(&example.name, &dependencies(&example.deps));
    project.write("src/main.rs", &example.source);
    let built = project.cargo("build");
    if !built.status.success() {
        let what = format!("{} does not build from its header's lines", example.name);
        return vec![failure(&what, &built)];
    }
    let mut errors = Vec::new();
    for (i, dep) in example.deps.iter().enumerate() {
        for feature in &dep.features {
            let mut fewer = example.deps.clone();
            fewer[i].features.retain(|f| f != feature);
            project.manifest(&example.name, &dependencies(&fewer));
            if project.cargo("check").status.success() {
                errors.push(format!(
                    "{}: nix feature {feature:?} is listed but not needed (it builds without)",
                    example.name
                ));
            }
        }
    }
    errors
}

#[test]
fn every_example_builds_alone_from_its_header_lines() {
    if skip_unless_offline_works("every_example_builds_alone_from_its_header_lines") {
        return;
    }
    let errors: Vec<String> = examples().iter().flat_map(build_alone).collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// README's "Copy this" section: its ```toml block that starts with `[dependencies]`.
fn readme_block() -> Vec<Dep> {
    let readme = fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Copy this"))
        .expect("README has a section \"## Copy this\"");
    let lines = block(section.lines()).expect("README's Copy this has a [dependencies] block");
    let parsed: Result<Vec<Dep>, String> = lines.into_iter().map(Dep::parse).collect();
    parsed.unwrap_or_else(|e| panic!("README's block: {e}"))
}

/// The union of every header's lines: each crate once, with every feature any example needs.
fn union(examples: &[Example]) -> Vec<Dep> {
    let mut all: Vec<Dep> = Vec::new();
    for dep in examples.iter().flat_map(|e| &e.deps) {
        match all.iter_mut().find(|d| d.name == dep.name) {
            Some(known) => {
                known.features.extend(dep.features.iter().cloned());
                known.features.sort();
                known.features.dedup();
            }
            None => all.push(dep.clone()),
        }
    }
    all
}

#[test]
fn readme_block_is_the_union_of_the_headers_and_builds_them_all() {
    let examples = examples();
    let mut readme = readme_block();
    let mut needed = union(&examples);
    readme.sort();
    needed.sort();
    assert_eq!(
        readme.iter().map(Dep::line).collect::<Vec<_>>(),
        needed.iter().map(Dep::line).collect::<Vec<_>>(),
        "README's Copy this block is not the union of the examples' header lines"
    );
    if skip_unless_offline_works("readme_block_is_the_union_of_the_headers_and_builds_them_all") {
        return;
    }
    let mut bins = String::new();
    for example in &examples {
        let _ = write!(
            bins,
            "\n[[bin]]\nname = \"{0}\"\npath = \"src/bin/{0}.rs\"\n",
            example.name
        );
    }
    let project = Project::new("copy_this", &(dependencies(&readme) + &bins));
    fs::create_dir_all(project.0.join("src/bin")).expect("make src/bin");
    for example in &examples {
        let file = format!("src/bin/{}.rs", example.name);
        fs::copy(&example.path, project.0.join(&file)).expect("copy the example");
    }
    let built = project.cargo("build");
    assert!(
        built.status.success(),
        "{}",
        failure("README's block does not build every example", &built)
    );
}
