//! Spec diagnostics: what is wrong, where (a key path resolved to a byte span of the file), and how
//! to fix it. Rendering produces text; `output` prints it.

use std::fmt;
use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Where in the spec a value lives, e.g. `services.iris-app.deployment.maximum_percent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }
    pub fn key(&self, k: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.into()));
        p
    }
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    /// Parse `a.b[2].c` (keys containing dots are not used by the model).
    pub fn parse(s: &str) -> Self {
        let mut p = KeyPath::root();
        for part in s.split('.').filter(|s| !s.is_empty()) {
            let (name, idx) = match part.find('[') {
                Some(i) => (&part[..i], Some(&part[i..])),
                None => (part, None),
            };
            if !name.is_empty() {
                p = p.key(name);
            }
            for n in idx.into_iter().flat_map(|s| s.split(['[', ']'])).filter(|s| !s.is_empty()) {
                if let Ok(n) = n.parse() {
                    p = p.index(n);
                }
            }
        }
        p
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub path: KeyPath,
    pub message: String,
    pub hint: Option<String>,
    /// Byte range in the source; filled from `path` when the file is at hand.
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    pub fn error(path: KeyPath, message: impl Into<String>) -> Self {
        Diagnostic { level: Level::Error, path, message: message.into(), hint: None, span: None }
    }
    pub fn warning(path: KeyPath, message: impl Into<String>) -> Self {
        Diagnostic { level: Level::Warning, ..Diagnostic::error(path, message) }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn at(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }

    /// `deploy.toml:12:5: error: … / the line / ^^^ / hint: …`
    pub fn render(&self, file: &str, source: &str) -> String {
        let label = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut out = String::new();
        match &self.span {
            Some(span) => {
                let (line, col) = line_col(source, span.start);
                out.push_str(&format!("{file}:{line}:{col}: {label}: {}\n", self.message));
                let text = source.lines().nth(line - 1).unwrap_or("");
                let gutter = line.to_string().len();
                // Underline the span, clipped to its first line.
                let width = (span.end.min(span.start + text.len().saturating_sub(col - 1)) - span.start).max(1);
                out.push_str(&format!("{:gutter$} |\n", ""));
                out.push_str(&format!("{line} | {text}\n"));
                out.push_str(&format!("{:gutter$} | {:col$}{}\n", "", "", "^".repeat(width), col = col - 1));
            }
            None => out.push_str(&format!("{file}: {label}: {}\n", self.message)),
        }
        if !self.path.0.is_empty() {
            out.push_str(&format!("  = at: {}\n", self.path));
        }
        if let Some(h) = &self.hint {
            out.push_str(&format!("  = hint: {h}\n"));
        }
        out
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// The spanned parse of the file, for turning key paths into places.
pub struct SpanIndex<'a> {
    root: Spanned<DeTable<'a>>,
}

impl<'a> SpanIndex<'a> {
    pub fn new(root: Spanned<DeTable<'a>>) -> Self {
        SpanIndex { root }
    }

    /// The span of the value at `path`, or of the deepest part of it that exists. With `key_of`
    /// set, the span of that key inside the table at `path` (an unknown field, say).
    pub fn find(&self, path: &KeyPath, key_of: Option<&str>) -> Option<Range<usize>> {
        let mut span = None;
        let mut table = Some(self.root.get_ref());
        let mut array: Option<&[Spanned<DeValue<'a>>]> = None;
        let mut complete = true;
        for seg in &path.0 {
            let value = match (seg, table, array) {
                (Seg::Key(k), Some(t), _) => entry(t, k).map(|(_, v)| v),
                (Seg::Index(i), _, Some(a)) => a.get(*i),
                _ => None,
            };
            let Some(value) = value else {
                complete = false;
                break;
            };
            span = Some(value.span());
            (table, array) = match value.get_ref() {
                DeValue::Table(t) => (Some(t), None),
                DeValue::Array(a) => (None, Some(&a[..])),
                _ => (None, None),
            };
        }
        if let (Some(k), Some(t), true) = (key_of, table, complete) {
            if let Some((key, _)) = entry(t, k) {
                return Some(key.span());
            }
        }
        span
    }
}

fn entry<'t, 'a>(t: &'t DeTable<'a>, key: &str) -> Option<(&'t Spanned<toml::de::DeString<'a>>, &'t Spanned<DeValue<'a>>)> {
    t.iter().find(|(k, _)| k.get_ref().as_ref() == key)
}
