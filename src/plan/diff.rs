//! The pure part of planning: resolve references, compare desired with live, choose the action.

use std::collections::HashMap;

use serde_json::Value;

use super::{Action, Address, Change, Desired, FieldChange, Live, Outputs};

/// Shown (and stored) where a value exists only once a dependency has been created.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

/// Shown where a change is made without reading the value first (`--no-wait`).
pub const NOT_READ: &str = "(not read)";

/// Replace each `{"$ref": "address.output"}` whose value is known; unknown ones stay references.
pub fn resolve(v: &Value, known: &HashMap<Address, Outputs>) -> Value {
    match v {
        Value::Object(m) => match m.get("$ref").and_then(Value::as_str) {
            Some(r) if m.len() == 1 => lookup(r, known).map(Value::String).unwrap_or_else(|| v.clone()),
            _ => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve(v, known))).collect()),
        },
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, known)).collect()),
        _ => v.clone(),
    }
}

fn lookup(r: &str, known: &HashMap<Address, Outputs>) -> Option<String> {
    let (address, output) = r.rsplit_once('.')?;
    known.get(address)?.get(output).cloned()
}

/// The references still in a value (addresses with their output).
pub fn unresolved_refs(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => match m.get("$ref").and_then(Value::as_str) {
                Some(r) if m.len() == 1 => out.push(r.to_string()),
                _ => m.values().for_each(|v| walk(v, out)),
            },
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(v, &mut out);
    out
}

/// JSON null is "absent": stored as `None`, so a plan reads back from JSON exactly as it was.
fn present(v: Value) -> Option<Value> {
    (!v.is_null()).then_some(v)
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Array(a) => {
            let mut a = a.clone();
            a.sort_by_key(|x| x.to_string());
            Value::Array(a)
        }
        other => other.clone(),
    }
}

/// For display and storage: references that are still unknown become `(known after apply)`.
fn display_unknown(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key("$ref") => Value::String(KNOWN_AFTER_APPLY.into()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), display_unknown(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(display_unknown).collect()),
        _ => v.clone(),
    }
}

/// Compare one resource. `known` holds outputs of dependencies that exist and will not change
/// identity; anything else a field refers to is `(known after apply)`.
pub fn diff(desired: &Desired, live: Option<&Live>, known: &HashMap<Address, Outputs>) -> Change {
    let change =
        |action, reason: String, fields| Change { address: desired.address.clone(), action, reason, fields, desired: desired.clone(), live: live.cloned() };
    if desired.data {
        return change(Action::Read, "read-only: must already exist".into(), vec![]);
    }
    let Some(live) = live else {
        let fields =
            desired.fields.iter().map(|(k, v)| FieldChange { field: k.clone(), before: None, after: present(display_unknown(&resolve(v, known))) }).collect();
        return change(Action::Create, "does not exist yet".into(), fields);
    };
    let mut fields = Vec::new();
    for (k, v) in &desired.fields {
        let after = resolve(v, known);
        let before = live.fields.get(k);
        let same = match before {
            Some(b) if desired.unordered.contains(k) => sorted(b) == sorted(&after),
            Some(b) => *b == after,
            None => false,
        };
        if unresolved_refs(&after).is_empty() && same {
            continue;
        }
        fields.push(FieldChange { field: k.clone(), before: before.cloned().and_then(present), after: present(display_unknown(&after)) });
    }
    if fields.is_empty() {
        return change(Action::NoOp, "up to date".into(), fields);
    }
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    match fields.iter().find(|f| desired.replace_on.contains(&f.field)) {
        Some(f) => {
            let reason = format!("`{}` cannot change in place", f.field);
            change(Action::Replace, reason, fields)
        }
        // Tagged by no stack: someone built it by hand; it becomes the stack's.
        None if live.fields.get("tags").is_some_and(|t| t.as_object().is_some_and(|m| m.is_empty())) && desired.fields.contains_key("tags") => {
            let others: Vec<&str> = names.iter().copied().filter(|n| *n != "tags").collect();
            let reason = match others.as_slice() {
                [] => "found by name, not yet the stack's: tag it".to_string(),
                o => format!("found by name, not yet the stack's: tag it, and change {}", o.join(", ")),
            };
            change(Action::Adopt, reason, fields)
        }
        None => {
            let reason = format!("{} differ{}", names.join(", "), if names.len() == 1 { "s" } else { "" });
            change(Action::Update, reason, fields)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{reference, Fields};
    use serde_json::json;

    fn desired(fields: Fields) -> Desired {
        Desired {
            address: "security_group.ecs".into(),
            kind: "security_group".into(),
            name: "iris-ecs".into(),
            fields,
            replace_on: vec!["description".into()],
            unordered: vec![],
            depends_on: vec!["vpc.default".into()],
            reads: vec![],
            data: false,
            versioned: false,
            meta: Default::default(),
        }
    }

    fn fields(pairs: &[(&str, Value)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn missing_is_create_with_unknown_refs_shown() {
        let d = desired(fields(&[("vpc", reference("vpc.default", "id")), ("description", json!("x"))]));
        let c = diff(&d, None, &HashMap::new());
        assert_eq!(c.action, Action::Create);
        assert_eq!(c.fields[1].after, Some(json!(KNOWN_AFTER_APPLY)));
    }

    #[test]
    fn equal_after_resolution_is_no_op() {
        let d = desired(fields(&[("vpc", reference("vpc.default", "id")), ("rules", json!(["a", "b"]))]));
        let live = Live { id: "sg-1".into(), fields: fields(&[("vpc", json!("vpc-1")), ("rules", json!(["a", "b"]))]), outputs: Default::default() };
        let known = HashMap::from([("vpc.default".to_string(), Outputs::from([("id".to_string(), "vpc-1".to_string())]))]);
        assert_eq!(diff(&d, Some(&live), &known).action, Action::NoOp);
        // Without the VPC's id the reference is unknown: a change.
        assert_eq!(diff(&d, Some(&live), &HashMap::new()).action, Action::Update);
    }

    #[test]
    fn immutable_field_means_replace_and_others_update() {
        let live = Live { id: "sg-1".into(), fields: fields(&[("description", json!("old")), ("tags", json!({}))]), outputs: Default::default() };
        let c = diff(&desired(fields(&[("description", json!("new"))])), Some(&live), &HashMap::new());
        assert_eq!(c.action, Action::Replace);
        assert_eq!(c.fields, vec![FieldChange { field: "description".into(), before: Some(json!("old")), after: Some(json!("new")) }]);
        let tagged = Live { fields: fields(&[("description", json!("old")), ("tags", json!({"a": "c"}))]), ..live.clone() };
        let c = diff(&desired(fields(&[("tags", json!({"a": "b"}))])), Some(&tagged), &HashMap::new());
        assert_eq!(c.action, Action::Update);
        assert_eq!(c.reason, "tags differs");
    }

    #[test]
    fn untagged_look_alike_is_adopted_never_created() {
        let live = Live { id: "sg-1".into(), fields: fields(&[("description", json!("x")), ("tags", json!({}))]), outputs: Default::default() };
        let c = diff(&desired(fields(&[("description", json!("x")), ("tags", json!({"ecsdeploy:stack": "iris"}))])), Some(&live), &HashMap::new());
        assert_eq!(c.action, Action::Adopt);
        assert_eq!(c.reason, "found by name, not yet the stack's: tag it");
        assert_eq!(c.fields.len(), 1);
        // Already ours: nothing to do.
        let ours = Live { fields: fields(&[("description", json!("x")), ("tags", json!({"ecsdeploy:stack": "iris"}))]), ..live };
        assert_eq!(diff(&desired(ours.fields.clone()), Some(&ours), &HashMap::new()).action, Action::NoOp);
    }

    #[test]
    fn data_sources_are_read() {
        let mut d = desired(Fields::new());
        d.data = true;
        assert_eq!(diff(&d, None, &HashMap::new()).action, Action::Read);
    }
}
