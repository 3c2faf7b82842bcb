//! Plan rendering: human text (colour only when asked) and a stable JSON shape for machines.

use serde_json::{json, Value};

use super::{Action, Change, FieldChange, Plan};

/// How to draw text output; `output` decides (terminal, NO_COLOR).
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
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

/// Changes first (dependency order), then a one-line summary. Unchanged resources are counted.
pub fn render_text(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    for w in &plan.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    let width = plan.changes.iter().filter(|c| c.action.mutates()).map(|c| c.address.len()).max().unwrap_or(0);
    for c in plan.changes.iter().filter(|c| c.action.mutates()) {
        let head = format!("{:>3} {:width$}  {}", c.action.symbol(), c.address, c.reason);
        out.push_str(&style.paint(c.action, &head));
        out.push('\n');
        for f in &c.fields {
            out.push_str(&field_lines(c, f));
        }
    }
    out.push_str(&summary(plan));
    out
}

fn field_lines(c: &Change, f: &FieldChange) -> String {
    let show = |v: &Option<Value>| v.as_ref().map(compact).unwrap_or_else(|| "(none)".into());
    match (c.action, &f.before, &f.after) {
        // A new list of records: one per line.
        (Action::Create, _, Some(Value::Array(items))) if items.iter().any(Value::is_object) => {
            let mut s = format!("      {}:\n", f.field);
            for i in items {
                s.push_str(&format!("        + {}\n", compact(i)));
            }
            s
        }
        (Action::Create, _, after) => format!("      {}: {}\n", f.field, show(after)),
        // Sets and lists: name exactly the elements that go and come.
        (_, Some(Value::Array(before)), Some(Value::Array(after))) => {
            let mut s = format!("      {}:\n", f.field);
            for b in before.iter().filter(|b| !after.contains(b)) {
                s.push_str(&format!("        - {}\n", compact(b)));
            }
            for a in after.iter().filter(|a| !before.contains(a)) {
                s.push_str(&format!("        + {}\n", compact(a)));
            }
            s
        }
        (_, before, after) => format!("      {}: {} → {}\n", f.field, show(before), show(after)),
    }
}

fn compact(v: &Value) -> String {
    match v {
        // Multi-line text (user data) stays readable, indented under its field.
        Value::String(s) if s.contains('\n') => format!("|\n{}", s.trim_end().lines().map(|l| format!("          {l}")).collect::<Vec<_>>().join("\n")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn summary(plan: &Plan) -> String {
    if !plan.has_changes() {
        return format!("No changes: stack `{}` matches the spec ({} resources).\n", plan.stack, plan.changes.len());
    }
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
/// delete, unchanged}, warnings}`. Every resource appears, in dependency order.
pub fn render_json(plan: &Plan) -> String {
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
    let doc = json!({
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
    });
    serde_json::to_string_pretty(&doc).expect("plan serialises")
}
