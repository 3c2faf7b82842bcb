//! Plan rendering: human text (colour only when asked) and a stable JSON shape for machines.
//!
//! The text is for a person deciding whether to apply: every changed attribute on its own line,
//! differences found inside values (containers matched by name, maps and lists by element), and
//! creations limited to what the spec chose. `--verbose` and the JSON show everything.

use serde_json::{json, Value};

use super::{Action, Change, Plan, KNOWN_AFTER_APPLY, NOT_READ};

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
        let n = plan.changes.len();
        out.push_str(&format!("No changes: stack `{}` matches the spec ({n} resource{}{hidden}).\n", plan.stack, if n == 1 { "" } else { "s" }));
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
        Some(Value::String(s)) if s == KNOWN_AFTER_APPLY || s == NOT_READ => s.clone(),
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
                        record(&mut lines, indent + STEP * 3, path, a, |out, indent, path, k, v| created(out, indent, path, k, v, false));
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
    let tail = |s: &str| format!("\"…{}", &json!(s[cut..]).to_string()[1..]);
    (tail(before), tail(after))
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::plan::{diff, reference, Desired, Fields, Live};

    const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-inference";

    fn object(v: Value) -> Fields {
        v.as_object().expect("an object").iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn tags(address: &str) -> Value {
        json!({"ecsdeploy:resource": address, "ecsdeploy:stack": "iris"})
    }

    /// A resource as the resource layer describes it, tagged as every resource of a stack is.
    fn desired(address: &str, fields: Value) -> Desired {
        let (kind, name) = address.split_once('.').expect("kind.name");
        let mut fields = object(fields);
        fields.insert("tags".into(), tags(address));
        Desired { address: address.into(), kind: kind.into(), name: name.into(), fields, ..Default::default() }
    }

    fn live(fields: Value) -> Live {
        Live { id: "id-1".into(), fields: object(fields), outputs: Default::default() }
    }

    fn container(image: &str, bucket: &str) -> Value {
        json!({
            "name": "inference", "image": image, "essential": true, "command": null, "entry_point": null, "cpu": 0,
            "memory": null, "memory_reservation": null, "health_check": null, "secrets": {},
            "environment": {"BUCKET_NAME": bucket},
            "port_mappings": [{"container": 80, "host": 80, "protocol": "tcp"}],
            "logs": {"group": "/ecs/iris-inference", "prefix": "ecs", "region": "us-east-1"},
        })
    }

    fn task_definition(image: &str, bucket: &str) -> Desired {
        desired(
            "task_definition.iris-inference",
            json!({
                "containers": [container(image, bucket)],
                "cpu": "256", "memory": "512", "network_mode": "bridge", "requires": ["EC2"],
                "runtime_platform": "LINUX/X86_64", "task_role": reference("iam_role.ecs-iris-tasks", "arn"), "execution_role": "",
            }),
        )
    }

    fn service() -> Desired {
        desired(
            "service.iris-app",
            json!({
                "desired_count": 1, "launch_type": "", "network": null, "health_check_grace_period": null, "load_balancers": [],
                "rollout": "COMPLETED", "task_definition": reference("task_definition.iris-inference", "arn"),
                "deployment": {"circuit_breaker": true, "maximum_percent": 100, "minimum_healthy_percent": 0, "rollback": true},
            }),
        )
    }

    fn launch_template() -> Desired {
        let mut d = desired(
            "launch_template.ecs",
            json!({
                "image_id": "ami-05fb4f257abd42992", "instance_type": "t3.micro", "key_name": "mlds-ecs-key",
                "user_data": "#!/bin/bash\necho ECS_CLUSTER=mlds-ecs-workshop >> /etc/ecs/ecs.config\n",
            }),
        );
        d.replace_on = vec!["key_name".into()];
        d
    }

    fn plan(changes: Vec<Change>, warnings: &[&str]) -> Plan {
        Plan { stack: "iris".into(), changes, warnings: warnings.iter().map(|w| w.to_string()).collect() }
    }

    fn text(plan: &Plan) -> String {
        render_text(plan, Style::default())
    }

    /// The live twin of a desired resource: what AWS answers once it is created as asked.
    fn as_created(d: &Desired, known: &HashMap<String, crate::plan::Outputs>) -> Live {
        Live { id: "id-1".into(), fields: d.fields.iter().map(|(k, v)| (k.clone(), diff::resolve(v, known))).collect(), outputs: Default::default() }
    }

    fn known() -> HashMap<String, crate::plan::Outputs> {
        let arn = |a: &str| crate::plan::Outputs::from([("arn".to_string(), a.to_string())]);
        HashMap::from([
            ("iam_role.ecs-iris-tasks".to_string(), arn("arn:aws:iam::123456789012:role/ecs-iris-tasks")),
            ("task_definition.iris-inference".to_string(), arn("arn:aws:ecs:us-east-1:123456789012:task-definition/iris-inference:1")),
        ])
    }

    const HOST_PORT: &str = "service `iris-app`: host port 80 on a single instance cannot do a rolling deploy; \
        silence this with `minimum_healthy_percent = 0` and `maximum_percent = 100` under [services.iris-app.deployment]";

    #[test]
    fn a_creation_shows_what_the_spec_chose_and_verbose_everything() {
        let none = HashMap::new();
        let changes = vec![
            diff::diff(&desired("log_group./ecs/iris-inference", json!({"retention_days": 7})), None, &none),
            diff::diff(&task_definition(&format!("{IMAGE}:latest"), "mlds-iris-data"), None, &none),
            diff::diff(&launch_template(), None, &none),
            diff::diff(&service(), None, &none),
        ];
        // The same warning from two sources is said once.
        let p = plan(changes, &[HOST_PORT, HOST_PORT]);
        let shown = text(&p);
        assert!(!shown.contains("tags") && !shown.contains("essential") && !shown.contains("COMPLETED"), "{shown}");
        assert_eq!(shown.matches("warning:").count(), 1, "{shown}");
        insta::assert_snapshot!("create", shown);
        let verbose = render_text(&p, Style { verbose: true, ..Style::default() });
        assert!(verbose.contains("ecsdeploy:stack") && verbose.contains("essential: true") && verbose.contains("launch_type: (none)"), "{verbose}");
    }

    #[test]
    fn an_update_shows_each_changed_attribute_inside_the_containers() {
        let known = known();
        let before = task_definition(&format!("{IMAGE}:latest"), "mlds-iris-data");
        let mut after = task_definition(&format!("{IMAGE}:v2"), "another-bucket");
        after.fields.insert("cpu".into(), json!("512"));
        // A container added: what the spec chose for it, as for a creation.
        let mut sidecar = container("public.ecr.aws/docker/library/nginx:1.27", "mlds-iris-data");
        sidecar["name"] = json!("proxy");
        sidecar["port_mappings"] = json!([]);
        after.fields.get_mut("containers").and_then(Value::as_array_mut).expect("containers").push(sidecar);
        let mut role =
            desired("iam_role.ecs-iris-tasks", json!({"managed_policies": ["AmazonS3FullAccess", "CloudWatchLogsFullAccess"], "inline_policies": {}}));
        let role_live = live(json!({"managed_policies": ["AmazonS3FullAccess"], "inline_policies": {"old": "{}"}, "tags": tags("iam_role.ecs-iris-tasks")}));
        role.unordered = vec!["managed_policies".into()];
        let mut svc_live = as_created(&service(), &known);
        svc_live.fields.insert("desired_count".into(), json!(0));
        svc_live.fields.insert("rollout".into(), json!("IN_PROGRESS"));
        let changes = vec![
            diff::diff(&role, Some(&role_live), &known),
            diff::diff(&after, Some(&as_created(&before, &known)), &known),
            // The task definition gets a new revision: the service's is known only after apply.
            diff::diff(&service(), Some(&svc_live), &HashMap::new()),
        ];
        let shown = text(&plan(changes, &[]));
        assert!(shown.contains(r#"image: "…/iris-inference:latest" → "…/iris-inference:v2""#), "{shown}");
        assert!(shown.contains("desired_count: 0 → 1") && shown.contains(r#"rollout: "IN_PROGRESS" → "COMPLETED""#), "{shown}");
        insta::assert_snapshot!("update", shown);
    }

    #[test]
    fn a_replacement_says_which_field_forces_it_and_text_changes_by_line() {
        let known = HashMap::new();
        let before = launch_template();
        let mut after = launch_template();
        after.fields.insert("key_name".into(), json!("other-key"));
        after.fields.insert("user_data".into(), json!("#!/bin/bash\necho ECS_CLUSTER=other >> /etc/ecs/ecs.config\n"));
        let shown = text(&plan(vec![diff::diff(&after, Some(&as_created(&before, &known)), &known)], &[]));
        insta::assert_snapshot!("replace", shown);
    }

    #[test]
    fn a_deletion_is_one_line_each() {
        let gone = |address: &str| {
            let d = desired(address, json!({}));
            Change {
                address: address.into(),
                action: Action::Delete,
                reason: "no longer in the spec".into(),
                fields: vec![],
                live: Some(live(json!({}))),
                desired: d,
            }
        };
        let kept = Change { action: Action::NoOp, reason: "up to date".into(), ..gone("cluster.mlds-ecs-workshop") };
        let shown = text(&plan(vec![gone("service.iris-web"), gone("load_balancer.iris-alb"), kept], &[]));
        insta::assert_snapshot!("delete", shown);
    }

    #[test]
    fn an_adoption_shows_the_tags_it_adds_and_what_else_changes() {
        let known = HashMap::new();
        let d = desired(
            "security_group.ecs",
            json!({"description": "ECS instances", "rules": [{"from": 80, "to": 80, "protocol": "tcp", "source": "165.124.160.0/21", "description": ""}]}),
        );
        let l = live(
            json!({"description": "ECS instances", "rules": [{"from": 8080, "to": 8080, "protocol": "tcp", "source": "0.0.0.0/0", "description": ""}], "tags": {}}),
        );
        let c = diff::diff(&d, Some(&l), &known);
        assert_eq!(c.action, Action::Adopt);
        let shown = text(&plan(vec![c], &[]));
        assert!(shown.contains(r#"- {"description":"","from":8080"#), "{shown}");
        insta::assert_snapshot!("adopt", shown);
    }

    #[test]
    fn a_no_op_plan_is_one_line_and_its_warnings_wait_for_verbose() {
        let known = known();
        let svc = service();
        let c = diff::diff(&svc, Some(&as_created(&svc, &known)), &known);
        assert_eq!(c.action, Action::NoOp);
        let p = plan(vec![c], &[HOST_PORT]);
        insta::assert_snapshot!("no_op", text(&p));
        let verbose = render_text(&p, Style { verbose: true, ..Style::default() });
        assert!(verbose.contains("warning: service `iris-app`") && verbose.lines().count() == 2, "{verbose}");
    }

    #[test]
    fn json_keeps_every_field_tags_and_defaults_included() {
        let c = diff::diff(&task_definition(&format!("{IMAGE}:latest"), "mlds-iris-data"), None, &HashMap::new());
        let doc = render_json(&plan(vec![c], &[HOST_PORT]));
        let v: Value = serde_json::from_str(&doc).unwrap();
        let fields = v["changes"][0]["fields"].as_array().unwrap();
        let field = |n: &str| fields.iter().find(|f| f["field"] == n).unwrap_or_else(|| panic!("{n} in {doc}"));
        assert_eq!(field("tags")["after"]["ecsdeploy:stack"], "iris");
        assert_eq!(field("containers")["after"][0]["essential"], true);
        insta::assert_snapshot!("json", doc);
    }

    #[test]
    fn none_is_said_one_way_and_long_strings_keep_their_difference() {
        let mut lines = Vec::new();
        for (before, after) in [(json!(""), json!("EC2")), (Value::Null, json!(30)), (json!([]), json!({"a": 1}))] {
            changed(&mut lines, 0, "f", "f", Some(&before), Some(&after));
        }
        // A map where there was none: its entries, as added.
        assert_eq!(lines, ["f: (none) → \"EC2\"", "f: (none) → 30", "f:", "  + a: 1"].map(String::from).to_vec());
        let c = |b: &str, a: &str| elided(b, a);
        assert_eq!(c("short:latest", "short:v2"), ("\"short:latest\"".into(), "\"short:v2\"".into()));
        assert_eq!(c(&format!("{IMAGE}:latest"), "docker.io/library/python:3"), (format!("\"{IMAGE}:latest\""), "\"docker.io/library/python:3\"".into()));
    }
}
