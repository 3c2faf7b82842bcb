//! Plan rendering: human text (colour only when asked) and a stable JSON shape for machines.
//!
//! The text is for a person deciding whether to apply: every changed attribute on its own line,
//! differences found inside values (containers matched by name, maps and lists by element), and
//! creations limited to what the spec chose. `--verbose` and the JSON show everything.

use serde_json::{json, Value};

use super::{Action, Change, Plan, KNOWN_AFTER_APPLY};

/// How to draw text output; `output` decides (terminal, NO_COLOR, `--verbose`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Creations show every field, tags and defaults included; a no-op plan shows its warnings.
    pub verbose: bool,
}

impl Style {
    fn paint(&self, action: Action, s: &str) -> String {
        let code = match action {
            Action::Create => "32",
            Action::Adopt => "36",
            Action::Update => "33",
            Action::Replace | Action::Delete => "31",
            Action::NoOp | Action::Read => "2",
        };
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// Values ecsdeploy fills in when the spec says nothing, by field path (a list's elements share
/// the list's path): a creation hides them unless `--verbose`, as nobody chose them.
const DEFAULTS: &[(&str, &str)] = &[
    ("rollout", r#""COMPLETED""#),
    ("runtime_platform", r#""LINUX/X86_64""#),
    ("requires", r#"["EC2"]"#),
    ("managed_scaling", r#""ENABLED""#),
    ("containers.essential", "true"),
    ("containers.cpu", "0"),
    ("deployment.circuit_breaker", "true"),
    ("deployment.rollback", "true"),
];

/// Where the fields of a change start, and how far each level of a value goes in.
const FIELD_INDENT: usize = 6;
const STEP: usize = 2;

/// Changes (dependency order), the warnings once each, then a one-line summary. A plan with
/// nothing to change is one line.
pub fn render_text(plan: &Plan, style: Style) -> String {
    let mut warnings: Vec<&String> = Vec::new();
    for w in &plan.warnings {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    if !plan.has_changes() {
        let mut out = String::new();
        if style.verbose {
            warnings.iter().for_each(|w| out.push_str(&format!("warning: {w}\n")));
        }
        let hidden = match warnings.len() {
            0 => String::new(),
            _ if style.verbose => String::new(),
            1 => "; 1 warning, shown by `plan --verbose`".into(),
            n => format!("; {n} warnings, shown by `plan --verbose`"),
        };
        out.push_str(&format!("No changes: stack `{}` matches the spec ({} resources{hidden}).\n", plan.stack, plan.changes.len()));
        return out;
    }
    let mut out = String::new();
    let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.action.mutates()).collect();
    let width = changes.iter().map(|c| c.address.len()).max().unwrap_or(0);
    for c in changes {
        let head = format!("{:>3} {:width$}  {}", c.action.symbol(), c.address, c.reason);
        out.push_str(&style.paint(c.action, &head));
        out.push('\n');
        let mut lines = Vec::new();
        for f in &c.fields {
            match c.action {
                Action::Create => created(&mut lines, FIELD_INDENT, &f.field, &f.field, f.after.as_ref(), style.verbose),
                _ => changed(&mut lines, FIELD_INDENT, &f.field, &f.field, f.before.as_ref(), f.after.as_ref()),
            }
        }
        lines.iter().for_each(|l| out.push_str(&format!("{}\n", l.trim_end())));
    }
    if !warnings.is_empty() {
        out.push('\n');
        warnings.iter().for_each(|w| out.push_str(&format!("warning: {w}\n")));
    }
    out.push_str(&summary(plan));
    out
}

/// JSON null, "", [] and {}: all shown as `(none)`, the one way of saying "no value".
fn is_none(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

/// One value on one line: strings quoted (so `"80"` and `80` differ), records as compact JSON.
fn show(v: Option<&Value>) -> String {
    match v {
        _ if is_none(v) => "(none)".into(),
        Some(Value::String(s)) if s == KNOWN_AFTER_APPLY => s.clone(),
        Some(v) => v.to_string(),
        None => unreachable!("none is shown above"),
    }
}

fn is_default(path: &str, v: &Value) -> bool {
    DEFAULTS.iter().any(|(p, d)| *p == path && serde_json::from_str::<Value>(d).is_ok_and(|d| d == *v))
}

/// The name a record of a list goes by (a container's), when every record has one.
fn names(items: &[Value]) -> Option<Vec<&str>> {
    items.iter().map(|i| i.get("name").and_then(Value::as_str)).collect()
}

fn pad(indent: usize) -> String {
    " ".repeat(indent)
}

/// The lines of a value being created, as the spec chose it: tags, defaults and empty values
/// only with `verbose`.
fn created(out: &mut Vec<String>, indent: usize, path: &str, key: &str, v: Option<&Value>, verbose: bool) {
    if !verbose && (path == "tags" || is_none(v) || v.is_some_and(|v| is_default(path, v))) {
        return;
    }
    let at = pad(indent);
    match v {
        Some(Value::String(s)) if s.contains('\n') => {
            out.push(format!("{at}{key}: |"));
            s.trim_end().lines().for_each(|l| out.push(format!("{at}{}{l}", pad(STEP * 2))));
        }
        Some(Value::Object(m)) if !m.is_empty() => {
            let mut inner = Vec::new();
            for (k, v) in m {
                created(&mut inner, indent + STEP, &format!("{path}.{k}"), k, Some(v), verbose);
            }
            if !inner.is_empty() {
                out.push(format!("{at}{key}:"));
                out.extend(inner);
            }
        }
        Some(Value::Array(items)) if items.iter().any(Value::is_object) => {
            out.push(format!("{at}{key}:"));
            match names(items) {
                Some(names) => {
                    for (name, item) in names.into_iter().zip(items) {
                        out.push(format!("{at}{}+ {name}:", pad(STEP)));
                        record(out, indent + STEP * 3, path, item, |out, indent, path, k, v| created(out, indent, path, k, v, verbose));
                    }
                }
                None => items.iter().for_each(|i| out.push(format!("{at}{}+ {}", pad(STEP), show(Some(i))))),
            }
        }
        v => out.push(format!("{at}{key}: {}", show(v))),
    }
}

/// The fields of a named record (its name is its heading), each through `each`.
fn record(out: &mut Vec<String>, indent: usize, path: &str, item: &Value, each: impl Fn(&mut Vec<String>, usize, &str, &str, Option<&Value>)) {
    if let Some(m) = item.as_object() {
        for (k, v) in m.iter().filter(|(k, _)| *k != "name") {
            each(out, indent, &format!("{path}.{k}"), k, Some(v));
        }
    }
}

/// The lines saying how a value changes, found as deep inside it as it goes: a map by key, a
/// list of named records by name, any other list by element, text by line.
fn changed(out: &mut Vec<String>, indent: usize, path: &str, key: &str, before: Option<&Value>, after: Option<&Value>) {
    if before == after {
        return;
    }
    let at = pad(indent);
    let empty_map = Value::Object(Default::default());
    let empty_list = Value::Array(vec![]);
    let (b, a) = (before.filter(|v| !is_none(Some(v))), after.filter(|v| !is_none(Some(v))));
    match (b, a) {
        // Maps (or a map appearing, or going): key by key.
        (Some(Value::Object(_)) | None, Some(Value::Object(_)) | None) if b.or(a).is_some_and(Value::is_object) => {
            let (Value::Object(bm), Value::Object(am)) = (b.unwrap_or(&empty_map), a.unwrap_or(&empty_map)) else { unreachable!() };
            out.push(format!("{at}{key}:"));
            let inner = indent + STEP;
            for (k, bv) in bm.iter().filter(|(k, _)| !am.contains_key(*k)) {
                out.push(format!("{}- {k}: {}", pad(inner), show(Some(bv))));
            }
            for (k, av) in am {
                match bm.get(k) {
                    None => out.push(format!("{}+ {k}: {}", pad(inner), show(Some(av)))),
                    Some(bv) => changed(out, inner, &format!("{path}.{k}"), k, Some(bv), Some(av)),
                }
            }
        }
        (Some(Value::Array(_)) | None, Some(Value::Array(_)) | None) if b.or(a).is_some_and(Value::is_array) => {
            let (Value::Array(bl), Value::Array(al)) = (b.unwrap_or(&empty_list), a.unwrap_or(&empty_list)) else { unreachable!() };
            list(out, indent, path, key, bl, al);
        }
        (Some(Value::String(bs)), Some(Value::String(as_))) if bs.contains('\n') || as_.contains('\n') => {
            out.push(format!("{at}{key}:"));
            for c in similar::TextDiff::from_lines(bs.as_str(), as_.as_str()).iter_all_changes() {
                let sign = match c.tag() {
                    similar::ChangeTag::Delete => "- ",
                    similar::ChangeTag::Insert => "+ ",
                    similar::ChangeTag::Equal => continue,
                };
                out.push(format!("{}{sign}{}", pad(indent + STEP), c.value().trim_end_matches('\n')));
            }
        }
        (Some(Value::String(bs)), Some(Value::String(as_))) => {
            let (bs, as_) = elided(bs, as_);
            out.push(format!("{at}{key}: {bs} → {as_}"));
        }
        _ => out.push(format!("{at}{key}: {} → {}", show(before), show(after))),
    }
}

/// A list's difference: named records matched by name, anything else element by element.
fn list(out: &mut Vec<String>, indent: usize, path: &str, key: &str, before: &[Value], after: &[Value]) {
    let at = pad(indent);
    let inner = pad(indent + STEP);
    let mut lines = Vec::new();
    match (names(before), names(after)) {
        (Some(bn), Some(an)) if before.iter().chain(after).all(Value::is_object) => {
            for (name, _) in bn.iter().zip(before).filter(|(n, _)| !an.contains(n)) {
                lines.push(format!("{inner}- {name}"));
            }
            for (name, a) in an.iter().zip(after) {
                match bn.iter().position(|n| n == name).map(|i| &before[i]) {
                    None => {
                        lines.push(format!("{inner}+ {name}:"));
                        record(&mut lines, indent + STEP * 3, path, a, |out, indent, path, k, v| created(out, indent, path, k, v, true));
                    }
                    Some(b) if b != a => {
                        lines.push(format!("{inner}~ {name}:"));
                        let (bm, am) = (b.as_object().cloned().unwrap_or_default(), a.as_object().cloned().unwrap_or_default());
                        let keys: std::collections::BTreeSet<&String> = bm.keys().chain(am.keys()).filter(|k| *k != "name").collect();
                        for k in keys {
                            changed(&mut lines, indent + STEP * 3, &format!("{path}.{k}"), k, bm.get(k), am.get(k));
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        _ => {
            before.iter().filter(|b| !after.contains(b)).for_each(|b| lines.push(format!("{inner}- {}", show(Some(b)))));
            after.iter().filter(|a| !before.contains(a)).for_each(|a| lines.push(format!("{inner}+ {}", show(Some(a)))));
        }
    }
    if lines.is_empty() {
        // The same elements in another order: the order is the change.
        lines.push(format!("{at}{key}: {} → {}", show(Some(&Value::Array(before.to_vec()))), show(Some(&Value::Array(after.to_vec())))));
    } else {
        lines.insert(0, format!("{at}{key}:"));
    }
    out.extend(lines);
}

/// Two long strings that share a long beginning (an image's registry and repository): that
/// part, up to its last `/`, elided from both so the difference shows.
fn elided(before: &str, after: &str) -> (String, String) {
    let common = before.char_indices().zip(after.chars()).take_while(|((_, b), a)| b == a).map(|((i, b), _)| i + b.len_utf8()).last().unwrap_or(0);
    let cut = before[..common].rfind('/').unwrap_or(0);
    if cut < 24 || before.len().max(after.len()) < 48 {
        return (show(Some(&json!(before))), show(Some(&json!(after))));
    }
    (format!("\"…{}\"", &before[cut..]), format!("\"…{}\"", &after[cut..]))
}

fn summary(plan: &Plan) -> String {
    if plan.changes.iter().all(|c| !matches!(c.action, Action::Create | Action::Adopt | Action::Update | Action::Replace)) {
        return format!("Plan: {} to delete; {} left alone.\n", plan.count(Action::Delete), plan.changes.len() - plan.count(Action::Delete));
    }
    let adopt = match plan.count(Action::Adopt) {
        0 => String::new(),
        n => format!("{n} to adopt, "),
    };
    format!(
        "Plan: {adopt}{} to create, {} to update, {} to replace, {} to delete; {} unchanged.\n",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete),
        plan.count(Action::NoOp) + plan.count(Action::Read),
    )
}

/// The documented JSON shape: `{stack, changes: [{address, kind, name, action, reason,
/// depends_on, fields: [{field, before, after}]}], summary: {create, adopt, update, replace,
/// delete, unchanged}, warnings}`. Every resource appears, in dependency order, with every field
/// (tags and defaults too).
pub fn render_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(&json_doc(plan)).expect("plan serialises")
}

/// The JSON document of [`render_json`], for a caller that adds to it (where the plan was made).
pub fn json_doc(plan: &Plan) -> Value {
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|c| {
            json!({
                "address": c.address,
                "kind": c.desired.kind,
                "name": c.desired.name,
                "action": c.action,
                "reason": c.reason,
                "depends_on": c.desired.depends_on,
                "fields": c.fields,
            })
        })
        .collect();
    json!({
        "stack": plan.stack,
        "changes": changes,
        "summary": {
            "create": plan.count(Action::Create),
            "adopt": plan.count(Action::Adopt),
            "update": plan.count(Action::Update),
            "replace": plan.count(Action::Replace),
            "delete": plan.count(Action::Delete),
            "unchanged": plan.count(Action::NoOp) + plan.count(Action::Read),
        },
        "warnings": plan.warnings,
    })
}
