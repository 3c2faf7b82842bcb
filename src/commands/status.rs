use super::Stack;
use crate::cli::Global;
use crate::cost::estimate;
use crate::error::Result;
use crate::output::Output;
use crate::resource::{inventory, observe};
use crate::spec::uses_fargate;

/// What runs, where users reach it, and what it costs. Read calls only.
pub async fn run(global: &Global, out: &Output) -> Result<u8> {
    let stack = Stack::open(global).await?;
    let spec = &stack.loaded.spec;
    let aws = &stack.provider.aws;
    super::header(out, aws, &spec.stack.name).await;
    let services = observe::services(aws, spec).await.map_err(super::resource_error)?;
    let instances = observe::instances(aws, &spec.cluster.name).await.map_err(super::resource_error)?;
    let fargate: Vec<(u32, u32)> = services
        .iter()
        .filter_map(|st| {
            let s = &spec.services[&st.name];
            let task = spec.tasks.get(&s.task)?;
            uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type)
                .then(|| (task.cpu.unwrap_or(256), task.memory.unwrap_or(512)))
                .map(|size| std::iter::repeat_n(size, st.running.max(0) as usize))
        })
        .flatten()
        .collect();
    let types: Vec<String> = instances.iter().map(|i| i.instance_type.clone()).collect();
    // The free tier is the account's own (since 2025-07-15): ask which types are free here.
    let free = crate::resource::instance_type::free_types(aws).await.map_err(super::resource_error)?;
    // What the stack still owns that the spec no longer describes bills too, until apply deletes it.
    let beyond = inventory::beyond_the_spec(aws, &spec.stack.name, &crate::resource::desired(spec)).await.map_err(super::resource_error)?;
    let load_balancer = spec.load_balancer.is_some() || beyond.iter().any(|o| o.kind == "load_balancer");
    let cost = estimate(&types, &free, &fargate, load_balancer);
    let beyond: Vec<String> = beyond.iter().map(|o| format!("{} ({})", o.address, o.name)).collect();
    out.status(&spec.stack.name, &spec.cluster.name, &services, &instances, &free, &cost);
    out.beyond_the_spec(&beyond);
    Ok(0)
}
