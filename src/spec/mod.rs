//! Reading `deploy.toml`: parse, `${VAR}` interpolation, typed model, semantic checks. Every problem
//! comes back as a [`Diagnostic`] that names the file, line and column. Nothing here touches AWS.

mod diag;
mod instance_types;
mod interpolate;
pub mod model;
mod units;
mod validate;
mod write;

use std::path::Path;

pub use diag::{Diagnostic, KeyPath, Level, Seg, SourceFile};
pub use instance_types::architectures;
pub use model::*;
pub use validate::{is_region, is_stack_name, parse_duration, static_host_ports, uses_fargate, OWN_GROUPS};
pub use write::to_toml;

use diag::SpanIndex;

/// A spec that parsed and passed every check, with the warnings it still deserves.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub spec: Spec,
    pub file: SourceFile,
    pub warnings: Vec<Diagnostic>,
}

/// The spec is unusable: every error found (and the warnings, for context).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} has {} error(s)", file.name, errors.len())]
pub struct SpecError {
    pub file: SourceFile,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl SpecError {
    pub fn render(&self) -> String {
        let mut all: Vec<&Diagnostic> = self.errors.iter().chain(&self.warnings).collect();
        all.sort_by_key(|d| (d.level != Level::Error, d.span.as_ref().map(|s| s.start)));
        all.iter().map(|d| d.render(&self.file)).collect::<Vec<_>>().join("\n")
    }
}

impl Loaded {
    /// Where `path` is written (`file:line:column`), or the deepest table of it that is.
    pub fn place(&self, path: &KeyPath) -> String {
        let (spanned, _) = toml::de::DeTable::parse_recoverable(&self.file.text);
        Diagnostic::warning(path.clone(), "").at(SpanIndex::new(spanned).find(path, None)).place(&self.file)
    }

    pub fn render_warnings(&self) -> String {
        self.warnings.iter().map(|d| d.render(&self.file)).collect::<Vec<_>>().join("\n")
    }
}

/// Read and check a spec file; `${VAR}` is looked up in the process environment.
pub fn load(path: &Path) -> Result<Loaded, SpecError> {
    // Shown as the user typed it: that is what their editor shows.
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let file = SourceFile { name: name.clone(), ..SourceFile::default() };
            let d = Diagnostic::error(KeyPath::root(), format!("cannot read the spec: {e}"))
                .hint("pass the spec with -f FILE, or run from the directory holding deploy.toml");
            return Err(SpecError { file, errors: vec![d], warnings: vec![] });
        }
    };
    parse(&name, &text, &|var| std::env::var(var).ok())
}

/// Parse and check spec text. `env` resolves `${VAR}`; tests pass their own.
pub fn parse(name: &str, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, SpecError> {
    let mut file = SourceFile { name: name.to_string(), text: text.to_string(), secret_spans: vec![] };

    // 1. Syntax, with spans kept for every later message. Recoverable parsing still finds the
    // secret values of a broken file, so even a syntax error never shows one.
    let (spanned, syntax_errors) = toml::de::DeTable::parse_recoverable(text);
    let index = SpanIndex::new(spanned);
    file.secret_spans = index.secret_spans();
    let fail = |errors: Vec<Diagnostic>, warnings: Vec<Diagnostic>| SpecError { file: file.clone(), errors, warnings };
    if let Some(e) = syntax_errors.first() {
        let d = Diagnostic::error(KeyPath::root(), format!("invalid TOML: {}", e.message()))
            .hint("check quoting, brackets and `key = value` syntax on that line")
            .at(e.span());
        return Err(fail(vec![d], vec![]));
    }
    let locate = |mut d: Diagnostic| {
        if d.span.is_none() {
            d.span = index.find(&d.path, None);
        }
        d
    };

    // 2. `${VAR}` in string values.
    let mut value: toml::Value = match toml::from_str::<toml::Table>(text) {
        Ok(t) => toml::Value::Table(t),
        Err(e) => return Err(fail(vec![Diagnostic::error(KeyPath::root(), e.message().to_string()).at(e.span())], vec![])),
    };
    let errors = interpolate::interpolate(&mut value, env);
    if !errors.is_empty() {
        return Err(fail(errors.into_iter().map(locate).collect(), vec![]));
    }

    // 3. The typed model: unknown keys, wrong types, missing fields.
    let spec: Spec = match serde_path_to_error::deserialize(value) {
        Ok(s) => s,
        Err(e) => {
            let path = KeyPath::parse(&e.path().to_string());
            let inner = e.into_inner();
            let message = inner.message().trim().to_string();
            let d = type_error(path, &message, &index);
            return Err(fail(vec![d], vec![]));
        }
    };

    // 4. Meaning: references, combinations, limits, guardrails.
    let (errors, warnings): (Vec<_>, Vec<_>) = validate::validate(&spec).into_iter().map(locate).partition(|d| d.level == Level::Error);
    if errors.is_empty() {
        Ok(Loaded { spec, file, warnings })
    } else {
        Err(fail(errors, warnings))
    }
}

/// Turn a serde message into a diagnostic pointing at the offending key or value.
fn type_error(path: KeyPath, message: &str, index: &SpanIndex) -> Diagnostic {
    if let Some(field) = between(message, "unknown field `", "`") {
        let expected = message.split_once(", expected ").map(|(_, e)| e.to_string());
        // The path may already end at the unknown key; point at the key itself, not its value.
        let mut parent = path;
        if parent.0.last() == Some(&Seg::Key(field.to_string())) {
            parent.0.pop();
        }
        let span = index.find(&parent, Some(field));
        let path = parent.key(field);
        let d = Diagnostic::error(path, format!("unknown key `{field}`")).at(span);
        return match expected {
            Some(e) => d.hint(format!("expected {e}; check the spelling")),
            None => d.hint("remove it; this table takes no such key"),
        };
    }
    if let Some(field) = between(message, "missing field `", "`") {
        let span = index.find(&path, None);
        let where_ = if path.0.is_empty() { "the file".to_string() } else { format!("`{path}`") };
        return Diagnostic::error(path.clone(), format!("missing key `{field}` in {where_}"))
            .hint(format!("add `{field} = …` to it (see examples/ for a complete spec)"))
            .at(span);
    }
    let span = index.find(&path, None);
    // Our own refusals carry their remedy (cpu and memory sizes).
    if let Some((message, remedy)) = message.split_once(units::REMEDY) {
        return Diagnostic::error(path, message.to_string()).hint(remedy.to_string()).at(span);
    }
    let hint = if message.contains("did not match any variant of untagged enum EnvValue") {
        "an environment value is a string, or { value = \"…\", secret = true }".to_string()
    } else if message.contains("untagged enum Subnets") {
        "subnets is \"default\" or a list of subnet ids: [\"subnet-…\"]".to_string()
    } else {
        "see examples/ for the expected shape of this value".to_string()
    };
    let message = if message.contains("did not match any variant") {
        "this value has the wrong type".to_string()
    } else {
        message.trim_start_matches("invalid value: ").to_string()
    };
    Diagnostic::error(path, format!("invalid value: {message}")).hint(hint).at(span)
}

fn between<'m>(s: &'m str, start: &str, end: &str) -> Option<&'m str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}
