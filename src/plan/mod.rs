//! A plan is plain data: the desired resources, what was observed, and the ordered changes between
//! them. `apply` executes exactly this; rendering turns it into text or JSON.

mod diff;
mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use diff::{diff, resolve, unresolved_refs, KNOWN_AFTER_APPLY, NOT_READ};
pub use render::{json_doc, render_json, render_text, Style};

/// Normalised attributes of a resource, compared field by field. A value may contain references
/// to another resource's output: `{"$ref": "security_group.ecs.id"}`.
pub type Fields = BTreeMap<String, Value>;

/// Values a resource makes available to its dependents (ids, ARNs, names).
pub type Outputs = BTreeMap<String, String>;

/// `kind.name`, e.g. `iam_role.ecs-iris-tasks`; the value of the `ecsdeploy:resource` tag.
pub type Address = String;

/// A reference to another resource's output, for use inside [`Fields`].
pub fn reference(address: &str, output: &str) -> Value {
    serde_json::json!({ "$ref": format!("{address}.{output}") })
}

/// Fields from `(name, value)` pairs.
pub fn fields<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Fields {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// What the spec asks for, for one resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Desired {
    pub address: Address,
    /// The resource kind, which the resource layer dispatches on (`iam_role`, `launch_template`…).
    pub kind: String,
    /// The name it has (or will have) in AWS.
    pub name: String,
    pub fields: Fields,
    /// Fields AWS cannot change in place: a difference there means replace.
    #[serde(default)]
    pub replace_on: Vec<String>,
    /// Array fields compared as sets (order carries no meaning: rules, subnets).
    #[serde(default)]
    pub unordered: Vec<String>,
    #[serde(default)]
    pub depends_on: Vec<Address>,
    /// The dependencies whose observation this one needs to observe itself (a group's rules need
    /// the group's id). Everything else is read at once, in parallel.
    #[serde(default)]
    pub reads: Vec<Address>,
    /// An update makes a new version with new outputs (a task-definition revision), so
    /// dependents see the new values only after apply.
    #[serde(default)]
    pub versioned: bool,
    /// Read-only: something that must already exist (the default VPC, a key pair, an RDS group).
    #[serde(default)]
    pub data: bool,
    /// Context the resource needs to act but that is not compared (the cluster an ASG feeds).
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

impl Desired {
    /// The same resource asked for only these fields, on its own: what day-2 commands plan
    /// (a desired count, a forced deployment) without touching anything else.
    pub fn narrowed(&self, fields: Fields) -> Self {
        Desired { fields, depends_on: vec![], reads: vec![], ..self.clone() }
    }

    /// Something that must already exist; `missing_hint` says how to make it.
    pub fn data(address: impl Into<Address>, kind: &str, name: impl Into<String>, missing_hint: impl Into<String>) -> Self {
        Desired {
            address: address.into(),
            kind: kind.into(),
            name: name.into(),
            data: true,
            meta: [("missing_hint".to_string(), missing_hint.into())].into(),
            ..Default::default()
        }
    }
}

/// What AWS has, normalised to the same shapes as [`Desired::fields`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Live {
    pub id: String,
    pub fields: Fields,
    pub outputs: Outputs,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    /// Found by name but not yet tagged by ecsdeploy (built by hand, in the console): apply
    /// tags it, and changes nothing else unless the spec says so.
    Adopt,
    Update,
    Replace,
    Delete,
    NoOp,
    Read,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Adopt => "<-",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => "=",
            Action::Read => "<=",
        }
    }
    pub fn mutates(self) -> bool {
        matches!(self, Action::Create | Action::Adopt | Action::Update | Action::Replace | Action::Delete)
    }
    /// Changed where it stands, keeping its identity (an update, or an adoption).
    pub fn in_place(self) -> bool {
        matches!(self, Action::Update | Action::Adopt)
    }
}

/// One field's before and after. `after` may hold `(known after apply)`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Change {
    pub address: Address,
    pub action: Action,
    pub reason: String,
    /// Field-level differences (every field for a create).
    pub fields: Vec<FieldChange>,
    pub desired: Desired,
    pub live: Option<Live>,
}

/// The ordered changes for a stack, dependencies first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub stack: String,
    pub changes: Vec<Change>,
    /// Free-tier guardrails and other things a human should read before applying.
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.mutates())
    }
    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }
    /// Resources this plan would change that another stack owns (its `ecsdeploy:stack` tag):
    /// (address, name, the other stack). ecsdeploy never takes one over.
    pub fn takeovers(&self) -> Vec<(String, String, String)> {
        self.changes
            .iter()
            .filter(|c| !c.desired.data)
            .filter_map(|c| {
                let owner = c.live.as_ref()?.fields.get("tags")?.get("ecsdeploy:stack")?.as_str()?;
                (owner != self.stack).then(|| (c.address.clone(), c.desired.name.clone(), owner.to_string()))
            })
            .collect()
    }
}
