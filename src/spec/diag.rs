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
    /// A free-tier guardrail: `apply` refuses it without `--allow-cost`.
    pub cost: bool,
}

impl Diagnostic {
    pub fn error(path: KeyPath, message: impl Into<String>) -> Self {
        Diagnostic { level: Level::Error, path, message: message.into(), hint: None, span: None, cost: false }
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

    /// The place, as `deploy.toml:12:5` (or just the file).
    pub fn place(&self, src: &SourceFile) -> String {
        match &self.span {
            Some(span) => {
                let (line, col) = line_col(&src.text, span.start);
                format!("{}:{line}:{col}", src.name)
            }
            None => src.name.clone(),
        }
    }

    /// `deploy.toml:12:5: error: … / the line / ^^^ / hint: …`. Secret values in the quoted
    /// line are masked.
    pub fn render(&self, src: &SourceFile) -> String {
        let (file, source) = (src.name.as_str(), src.text.as_str());
        let label = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut out = String::new();
        match &self.span {
            Some(span) => {
                let (line, col) = line_col(source, span.start);
                out.push_str(&format!("{file}:{line}:{col}: {label}: {}\n", self.message));
                let line_start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
                let raw = source[line_start..].lines().next().unwrap_or("");
                let start = (span.start - line_start).min(raw.len());
                let end = span.end.saturating_sub(line_start).clamp(start, raw.len());
                // Mask secrets, then measure the caret on the masked text so it still lines up.
                let text = mask(raw, line_start, &src.secret_spans);
                let pad = mask(&raw[..start], line_start, &src.secret_spans).chars().count();
                let width = raw[start..end].chars().count().max(1);
                let gutter = line.to_string().len();
                out.push_str(&format!("{:gutter$} |\n", ""));
                out.push_str(&format!("{line} | {text}\n"));
                out.push_str(&format!("{:gutter$} | {:pad$}{}\n", "", "", "^".repeat(width)));
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

/// The file as read, kept for rendering diagnostics.
#[derive(Debug, Clone, Default)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    /// Byte ranges of values marked `secret = true`, never shown.
    pub secret_spans: Vec<Range<usize>>,
}

fn mask(line: &str, offset: usize, secrets: &[Range<usize>]) -> String {
    let mut out = line.to_string();
    for s in secrets.iter().rev() {
        let (a, b) = (s.start.max(offset) - offset, s.end.min(offset + line.len()).saturating_sub(offset));
        if s.start < offset + line.len() && s.end > offset && a < b {
            out.replace_range(a..b, "\"****\"");
        }
    }
    out
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

    /// Spans of every `value` in a table that also says `secret = true`.
    pub fn secret_spans(&self) -> Vec<Range<usize>> {
        fn walk(v: &DeValue<'_>, out: &mut Vec<Range<usize>>) {
            match v {
                DeValue::Table(t) => {
                    let secret = entry(t, "secret").is_some_and(|(_, v)| matches!(v.get_ref(), DeValue::Boolean(true)));
                    if let (true, Some((_, value))) = (secret, entry(t, "value")) {
                        out.push(value.span());
                    }
                    t.values().for_each(|v| walk(v.get_ref(), out));
                }
                DeValue::Array(a) => a.iter().for_each(|v| walk(v.get_ref(), out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        self.root.get_ref().values().for_each(|v| walk(v.get_ref(), &mut out));
        out.sort_by_key(|r| r.start);
        out
    }
}

fn entry<'t, 'a>(t: &'t DeTable<'a>, key: &str) -> Option<(&'t Spanned<toml::de::DeString<'a>>, &'t Spanned<DeValue<'a>>)> {
    t.iter().find(|(k, _)| k.get_ref().as_ref() == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_round_trip() {
        let p = KeyPath::parse("tasks.web.containers[1].port_mappings[0].host");
        assert_eq!(p.to_string(), "tasks.web.containers[1].port_mappings[0].host");
        assert_eq!(p.0.len(), 7);
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_col("a\nbé = 1", 2), (2, 1));
        assert_eq!(line_col("a\nbé = 1", 6), (2, 4));
    }

    #[test]
    fn masking_hides_values_and_keeps_the_rest() {
        let line = r#"x = { value = "hunter2", secret = true }"#;
        let start = line.find("\"hunter2\"").unwrap();
        let masked = mask(line, 0, std::slice::from_ref(&(start..start + 9)));
        assert_eq!(masked, r#"x = { value = "****", secret = true }"#);
    }
}
