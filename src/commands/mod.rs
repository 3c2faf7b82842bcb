//! One file per command; each is thin and hands the work to the library.

mod apply;
pub use apply::Override;
mod destroy;
mod doctor;
mod init;
mod logs;
mod plan;
mod redeploy;
mod rollout;
mod run;
mod scale;
mod status;
mod validate;

use crate::aws::{Aws, Target};
use crate::cli::{Cli, Command, Global};
use crate::error::{Error, Result};
use crate::output::{Output, Place};
use crate::resource::{self, inventory, AwsProvider};
use crate::spec::{self, Loaded};

/// Run a command; `Ok` carries the exit code (plan's `--detailed-exitcode` uses 2).
pub fn run(cli: Cli) -> Result<u8> {
    let out = Output::new(&cli.global);
    // The commands that change AWS wind down on Ctrl-C or SIGTERM (see `interrupt`).
    if matches!(cli.command, Command::Apply { .. } | Command::Scale { .. } | Command::Destroy { .. } | Command::Run { .. } | Command::Redeploy { .. }) {
        crate::interrupt::install().map_err(|e| Error::Failed { message: format!("cannot listen for Ctrl-C: {e}"), hint: None })?;
    }
    match cli.command {
        Command::Validate => validate::run(&cli.global, &out),
        Command::Init { from_cluster, services, jobs, output, force } => {
            runtime().block_on(init::run(&cli.global, &out, init::Options { cluster: from_cluster, services, jobs, output, force }))
        }
        Command::Plan { json, detailed_exitcode, verbose, images, out: file } => {
            runtime().block_on(plan::run(&cli.global, &out, plan::Options { json, detailed_exitcode, verbose, images, file }))
        }
        Command::Apply { plan_file, auto_approve, allow_cost, no_rollback, images } => {
            runtime().block_on(apply::run(&cli.global, &out, apply::Options { plan_file, auto_approve, allow_cost, no_rollback, images }))
        }
        Command::Scale { service, desired, capacity, no_wait } => runtime().block_on(scale::run(&cli.global, &out, service, desired, capacity, !no_wait)),
        Command::Doctor { service } => runtime().block_on(doctor::run(&cli.global, &out, service)),
        Command::Status => runtime().block_on(status::run(&cli.global, &out)),
        Command::Logs { name, follow, since } => runtime().block_on(logs::run(&cli.global, &out, name, follow, &since)),
        Command::Completions { shell } => {
            out.completions(shell);
            Ok(0)
        }
        Command::Destroy { auto_approve, logs, stack } => runtime().block_on(destroy::run(&cli.global, &out, auto_approve, logs, stack)),
        Command::Run { name, wait, env } => runtime().block_on(run::run(&cli.global, &out, &name, wait, &env)),
        Command::Redeploy { service, force, no_wait } => runtime().block_on(redeploy::run(&cli.global, &out, service, force, !no_wait)),
    }
}

/// A resource-layer error, for a command that reports it.
pub(crate) fn resource_error(e: crate::resource::Error) -> Error {
    match e {
        crate::resource::Error::Aws(a) => Error::Aws(a),
        crate::resource::Error::Other(f) => Error::Failed { message: f.message, hint: f.hint },
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("start the async runtime")
}

/// Where to connect: `--region` (checked before any call) wins over the spec's region.
pub(crate) fn target(global: &Global, spec_region: Option<String>) -> Result<Target> {
    if let Some(r) = global.region.as_deref().filter(|r| !spec::is_region(r)) {
        return Err(Error::usage(format!("`{r}` is not an AWS region name"), "pass a region such as --region us-east-1"));
    }
    Ok(Target { profile: global.profile.clone(), region: global.region.clone().or(spec_region) })
}

/// The spec, checked, and a connection to the account it targets.
pub(crate) struct Stack {
    pub loaded: Loaded,
    pub provider: AwsProvider,
}

impl Stack {
    /// Load the spec, connect, and check the credentials before anything else.
    pub async fn open(global: &Global) -> Result<Stack> {
        let stack = Stack::connect(global, spec::load(&global.file)?).await?;
        stack.provider.aws.account_id().await?;
        Ok(stack)
    }

    /// Connect for a spec already checked (commands refuse bad input before any AWS call). No
    /// call yet: planning asks for the caller's identity alongside its first reads.
    pub async fn connect(global: &Global, loaded: Loaded) -> Result<Stack> {
        let target = target(global, loaded.spec.stack.region.clone())?;
        let aws = Aws::connect(&target).await?;
        let provider = AwsProvider::new(aws, &loaded.spec);
        Ok(Stack { loaded, provider })
    }

    /// The service a day-2 command means: the one named, or the only one.
    pub fn service(&self, name: Option<String>) -> Result<String> {
        match name {
            None => Stack::only_service(&self.loaded),
            Some(n) => Stack::named_service(&self.loaded, n),
        }
    }

    pub fn only_service(loaded: &Loaded) -> Result<String> {
        let services: Vec<&String> = loaded.spec.services.keys().collect();
        match services.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(Error::usage("which service?", format!("name one of: {}", services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")))),
        }
    }

    fn named_service(loaded: &Loaded, n: String) -> Result<String> {
        let list = loaded.spec.services.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
        match n {
            n if loaded.spec.services.contains_key(&n) => Ok(n),
            n => Err(Error::usage(format!("the spec has no service `{n}`"), format!("name one of: {list}"))),
        }
    }

    /// The spec's desired resource at `address`.
    pub fn desired(&self, address: &str) -> Result<crate::plan::Desired> {
        resource::desired(&self.loaded.spec)
            .into_iter()
            .find(|d| d.address == address)
            .ok_or_else(|| Error::usage(format!("the spec defines no `{address}`"), "check the spec"))
    }

    /// Run `work` holding the stack's lease (one changing run at a time), releasing it after.
    pub async fn locked<T>(&self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        locked(&self.provider.aws, &self.loaded.spec.stack.name, work).await
    }

    /// Plan just these resources (day-2 commands), which must already exist: a day-2 command
    /// changes a field, it never creates.
    pub async fn plan_only(&self, desired: Vec<crate::plan::Desired>) -> Result<crate::plan::Plan> {
        let plan = self.observed(crate::engine::plan(&self.provider, &self.loaded.spec.stack.name, desired, vec![])).await?;
        refuse_takeovers(&plan)?;
        if let Some(c) = plan.changes.iter().find(|c| c.action == crate::plan::Action::Create) {
            return Err(Error::usage(format!("`{}` does not exist yet", c.address), "run `ecsdeploy apply` first"));
        }
        Ok(plan)
    }

    /// `--no-wait` day-2 changes: one field set by one call that AWS applies atomically (an
    /// `UpdateService`), made without reading first, like `aws ecs update-service`. Nothing can
    /// be left half-done, so no lease is taken; AWS refuses the call when the service is missing.
    pub async fn apply_unread(&self, out: &Output, desired: crate::plan::Desired, reason: &str) -> Result<()> {
        use crate::plan::{Action, Change, FieldChange, Live, Plan};
        let fields = desired
            .fields
            .iter()
            .map(|(k, v)| FieldChange { field: k.clone(), before: Some(serde_json::json!(crate::plan::NOT_READ)), after: Some(v.clone()) })
            .collect();
        let live = Live { id: desired.name.clone(), ..Default::default() };
        let change = Change { address: desired.address.clone(), action: Action::Update, reason: reason.into(), fields, desired, live: Some(live) };
        let plan = Plan { stack: self.loaded.spec.stack.name.clone(), changes: vec![change], warnings: vec![] };
        out.header(&place_unasked(&self.provider.aws, &plan.stack));
        out.plan(&plan);
        // No identity check either: a refusal of this one call names the credential problem itself.
        apply::failed(&crate::engine::execute(&self.provider, &plan, &|e| out.progress(&e)).await)
    }

    /// The plan of the spec, refused when it would change what another stack owns.
    pub async fn plan(&self) -> Result<crate::plan::Plan> {
        let plan = self.observe().await?;
        refuse_takeovers(&plan)?;
        Ok(plan)
    }

    /// Everything the spec names, observed and diffed, and what the stack owns beyond the spec
    /// (found by its tag, alongside) planned for deletion.
    pub async fn observe(&self) -> Result<crate::plan::Plan> {
        let spec = &self.loaded.spec;
        // Each warning with its hint: the spec line that silences it.
        let hinted = |w: &spec::Diagnostic| w.hint.as_ref().map_or_else(|| w.message.clone(), |h| format!("{} ({h})", w.message));
        let mut warnings: Vec<String> = self.loaded.warnings.iter().map(|w| format!("{}: {}", w.place(&self.loaded.file), hinted(w))).collect();
        warnings.extend(resource::notes(spec));
        let aws = &self.provider.aws;
        let images = spec.tasks.values().flat_map(|t| &t.containers).map(|c| c.image.clone()).collect();
        let desired = resource::desired(spec);
        let expected = inventory::expected(&desired);
        let (mut plan, owned) = self
            .observed(async {
                // Three reads at once: the spec's resources, what the stack owns beyond them, and
                // the images in ECR (a missing one stops the plan: nothing may change then).
                let (plan, owned, digests) = tokio::join!(
                    crate::engine::plan(&self.provider, &spec.stack.name, desired, warnings),
                    inventory::owned(aws, &spec.stack.name, &expected),
                    resource::ecr::digests(aws, images),
                );
                // A missing prerequisite first (a key pair, say): it explains more than an image does.
                let plan = plan?;
                *self.provider.digests.lock().expect("digests lock") = digests.map_err(resource_error)?;
                Ok::<_, Error>((plan, owned.map_err(resource_error)?))
            })
            .await?;
        inventory::prune(&mut plan, owned);
        for (key, note) in resource::counts_set_outside(&plan) {
            let path = key.iter().fold(spec::KeyPath::root(), |p, k| p.key(k.as_str()));
            plan.warnings.push(format!("{note} at {}", self.loaded.place(&path)));
        }
        // What only the account can tell: whether the instances' type is free here.
        if let Some(w) = self.cost_refusal(&plan) {
            plan.warnings.push(format!("{w}; apply refuses it without --allow-cost (guardrails.free_tier = false silences this)"));
        }
        Ok(plan)
    }

    /// The account-dependent cost guardrail: a plan whose instances would not be free here.
    pub fn cost_refusal(&self, plan: &crate::plan::Plan) -> Option<String> {
        self.loaded.spec.guardrails.free_tier.then(|| resource::instance_type::cost_warning(plan)).flatten()
    }

    async fn observed<T, E: Into<Error>>(&self, reads: impl std::future::Future<Output = std::result::Result<T, E>>) -> Result<T> {
        with_identity(&self.provider.aws, reads).await
    }
}

/// Run `reads` alongside the identity check; a credentials problem is reported first, as it
/// explains every other failure, and at once: an unreachable endpoint need not wait for the reads.
pub(crate) async fn with_identity<T, E: Into<Error>>(aws: &Aws, reads: impl std::future::Future<Output = std::result::Result<T, E>>) -> Result<T> {
    let identity = aws.account_id();
    tokio::pin!(identity, reads);
    tokio::select! {
        biased;
        id = &mut identity => {
            id?;
            reads.await.map_err(Into::into)
        }
        result = &mut reads => {
            identity.await?;
            result.map_err(Into::into)
        }
    }
}

/// Where this run works, for the header line. The account is the one already asked alongside the
/// first reads; when asking failed, the command reports that error and no header is printed.
pub(crate) async fn place(aws: &Aws, stack: &str) -> Option<Place> {
    let account = aws.account_id().await.ok()?;
    Some(Place { account: Some(account), ..place_unasked(aws, stack) })
}

/// Where this run works, without asking the account (a `--no-wait` change makes one call only).
pub(crate) fn place_unasked(aws: &Aws, stack: &str) -> Place {
    Place { account: None, region: aws.region().to_string(), stack: stack.to_string(), endpoint: aws.config.endpoint_url().map(String::from) }
}

/// Print the header line once the account is known (see [`place`]).
pub(crate) async fn header(out: &Output, aws: &Aws, stack: &str) {
    if let Some(p) = place(aws, stack).await {
        out.header(&p);
    }
}

/// Run `work` holding `stack`'s lease (one changing run at a time), releasing it after.
pub(crate) async fn locked<T>(aws: &Aws, stack: &str, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let lease = crate::resource::lease::acquire(aws, stack).await.map_err(resource_error)?;
    let result = work.await;
    let released = crate::resource::lease::release(aws, lease).await.map_err(resource_error);
    let value = result?;
    released?;
    Ok(value)
}

/// The run was interrupted (Ctrl-C, SIGTERM): `what` it left, and the same command again to resume
/// (every command that changes AWS continues where an earlier run stopped).
pub(crate) fn interrupted(what: impl Into<String>) -> Error {
    let args: Vec<String> = std::env::args().skip(1).collect();
    Error::Interrupted { message: what.into(), resume: format!("ecsdeploy {}", args.join(" ")) }
}

/// A resource tagged by another stack is never adopted, re-tagged or changed: the plan stops,
/// naming both stacks, before any change.
fn refuse_takeovers(plan: &crate::plan::Plan) -> Result<()> {
    let Some((address, name, owner)) = plan.takeovers().into_iter().next() else { return Ok(()) };
    Err(Error::usage(
        format!("`{address}` ({name}) belongs to stack `{owner}`, not `{}`: ecsdeploy never takes over another stack's resources", plan.stack),
        format!("give it another name in this spec, or remove it from stack `{owner}` first (`ecsdeploy destroy` with that stack's spec)"),
    ))
}

/// Apply `CONTAINER=URI` overrides to the spec; a container name must be known and unambiguous.
pub(crate) fn override_images(spec: &mut crate::spec::Spec, images: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for kv in images {
        let Some((name, uri)) = kv.split_once('=').filter(|(n, u)| !n.is_empty() && !u.is_empty()) else {
            return Err(Error::usage(
                format!("`{kv}` is not CONTAINER=URI"),
                "write --image inference=ACCOUNT.dkr.ecr.REGION.amazonaws.com/iris-inference:TAG",
            ));
        };
        let mut found = spec.tasks.values_mut().flat_map(|t| t.containers.iter_mut()).filter(|c| c.name == name).collect::<Vec<_>>();
        match found.len() {
            1 => found[0].image = uri.to_string(),
            0 => return Err(Error::usage(format!("no container `{name}` in the spec"), "name a container of one of the [tasks.*] tables")),
            _ => return Err(Error::usage(format!("several tasks have a container `{name}`"), "rename them apart in the spec")),
        }
        out.push((name.to_string(), uri.to_string()));
    }
    Ok(out)
}
