use super::Stack;
use crate::cli::Global;
use crate::doctor::diagnose;
use crate::error::Result;
use crate::output::Output;
use crate::resource::observe;

/// Read, diagnose, print. Exit 0 when /docs answers, 1 when something is wrong.
pub async fn run(global: &Global, out: &Output, service: Option<String>) -> Result<u8> {
    let stack = Stack::open(global).await?;
    let name = stack.service(service)?;
    let facts = observe::doctor_facts(&stack.provider.aws, &stack.loaded.spec, &name).await.map_err(super::resource_error)?;
    let findings = diagnose(&stack.loaded.spec, &facts);
    out.findings(&name, &findings, &facts.log_lines);
    Ok(if findings.iter().all(|f| f.ok) { 0 } else { 1 })
}
