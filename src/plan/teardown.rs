//! The plan of a `destroy`: what the stack owns, deleted dependents first. Pure.

use std::collections::HashMap;

use serde_json::Value;

use super::{Action, Change, Plan};

/// Turn an observed plan into a teardown: each live resource tagged with `stack` becomes a
/// deletion (untagged look-alikes are left alone, kinds in `keep` are kept), and dependencies
/// are reversed so that whatever uses a resource goes before it.
pub fn teardown(observed: &Plan, stack: &str, keep: &[&str]) -> Plan {
    let by_address: HashMap<&str, &Change> = observed.changes.iter().map(|c| (c.address.as_str(), c)).collect();
    let owned = |c: &Change| -> bool { owns(c, stack, &by_address) };
    let mut changes: Vec<Change> = observed
        .changes
        .iter()
        .rev()
        .map(|c| {
            let mut t = c.clone();
            t.fields = vec![];
            (t.action, t.reason) = match (&c.live, c.desired.data) {
                (_, true) => (Action::Read, "read-only: never deleted".into()),
                (None, _) => (Action::NoOp, "already gone".into()),
                (Some(_), _) if !owned(c) => (Action::NoOp, format!("not tagged ecsdeploy:stack={stack}: left alone")),
                (Some(_), _) if keep.contains(&c.desired.kind.as_str()) => (Action::NoOp, "kept (see the command's options)".into()),
                (Some(_), _) => (Action::Delete, "owned by the stack".into()),
            };
            t
        })
        .collect();
    // Reverse the graph: a resource now waits for everything that depended on it.
    let dependents: HashMap<String, Vec<String>> = observed.changes.iter().fold(HashMap::new(), |mut m, c| {
        for d in &c.desired.depends_on {
            m.entry(d.clone()).or_default().push(c.address.clone());
        }
        m
    });
    for t in &mut changes {
        t.desired.depends_on = dependents.get(&t.address).cloned().unwrap_or_default();
    }
    Plan { stack: observed.stack.clone(), changes, warnings: vec![] }
}

/// Tagged with the stack; a resource without tags of its own (rules, a listener, the cluster's
/// provider list) belongs to the stack when everything it hangs on that is not read-only does.
fn owns(c: &Change, stack: &str, all: &HashMap<&str, &Change>) -> bool {
    let Some(live) = &c.live else { return false };
    match live.fields.get("tags") {
        Some(Value::Object(tags)) => tags.get("ecsdeploy:stack").and_then(Value::as_str) == Some(stack),
        _ => {
            let parents: Vec<&&Change> = c.desired.depends_on.iter().filter_map(|d| all.get(d.as_str())).filter(|p| !p.desired.data).collect();
            !parents.is_empty() && parents.iter().all(|p| owns(p, stack, all))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Desired, Live};
    use serde_json::json;

    fn change(address: &str, deps: &[&str], tags: Option<Value>, data: bool) -> Change {
        let fields = tags.map(|t| [("tags".to_string(), t)].into()).unwrap_or_default();
        Change {
            address: address.into(),
            action: Action::NoOp,
            reason: String::new(),
            fields: vec![],
            desired: Desired {
                address: address.into(),
                kind: address.split('.').next().unwrap().into(),
                data,
                depends_on: deps.iter().map(|d| d.to_string()).collect(),
                ..Default::default()
            },
            live: Some(Live { fields, ..Default::default() }),
        }
    }

    #[test]
    fn deletes_what_the_stack_owns_dependents_first_and_spares_the_rest() {
        let ours = json!({"ecsdeploy:stack": "iris"});
        let plan = Plan {
            stack: "iris".into(),
            changes: vec![
                change("security_group.rds", &[], None, true),
                change("security_group.ecs", &[], Some(ours.clone()), false),
                change("ingress.rds", &["security_group.rds", "security_group.ecs"], None, false),
                change("cluster.other", &[], Some(json!({})), false),
                change("log_group.x", &[], Some(ours), false),
            ],
            warnings: vec![],
        };
        let t = teardown(&plan, "iris", &["log_group"]);
        let action = |a: &str| t.changes.iter().find(|c| c.address == a).unwrap().action;
        assert_eq!(action("security_group.ecs"), Action::Delete);
        assert_eq!(action("ingress.rds"), Action::Delete, "rules on an existing group hang on our group");
        assert_eq!(action("security_group.rds"), Action::Read);
        assert_eq!(action("cluster.other"), Action::NoOp, "untagged: never touched");
        assert_eq!(action("log_group.x"), Action::NoOp, "kept");
        let group = t.changes.iter().find(|c| c.address == "security_group.ecs").unwrap();
        assert_eq!(group.desired.depends_on, ["ingress.rds"], "the rules go before the group");
    }
}
