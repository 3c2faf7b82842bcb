//! The instances' type (read-only). Since 2025-07-15 the AWS free tier is the account's own:
//! accounts on the free plan offer t3.micro, t3.small, t4g.micro/small, c7i-flex.large and
//! m7i-flex.large, and refuse to launch anything else (`InvalidParameterCombination: The
//! specified instance type is not eligible for Free Tier`); older accounts offer t2.micro. So the
//! type is asked from the account, the way AWS documents it: EC2 lists the types free for the
//! caller (`DescribeInstanceTypes`, filter `free-tier-eligible=true`), and the Free Tier API says
//! which plan the account is on (`GetAccountPlanState`).

use aws_sdk_ec2::types::{Filter, InstanceType};

use super::{outputs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::engine::Failure;
use crate::plan::{Desired, Live, Plan};
use crate::spec::Spec;

pub const KIND: &str = "instance_type";
pub const ADDRESS: &str = "instance_type.ecs";

/// The type used when the spec names none: the first the account offers free (t2.micro on
/// older accounts, t3.micro on free-plan ones). All x86_64, as the tasks are.
const PREFERRED: [&str; 5] = ["t2.micro", "t3.micro", "t3.small", "c7i-flex.large", "m7i-flex.large"];
/// When the account offers none of them free: the cheapest current x86_64 type that fits a task.
const FALLBACK: &str = "t3.micro";

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    // An empty name means "the account's free-tier type".
    let name = ec2.instance_type.clone().unwrap_or_default();
    vec![Desired::data(
        ADDRESS,
        KIND,
        name,
        "this region has no such instance type: choose another, or remove cluster.ec2.instance_type to use the account's free-tier type",
    )]
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let free = free_types(aws).await?;
    let chosen = match d.name.as_str() {
        "" => PREFERRED.iter().find(|t| free.iter().any(|f| f == *t)).copied().unwrap_or(FALLBACK).to_string(),
        explicit => explicit.to_string(),
    };
    let is_free = free.contains(&chosen);
    // Only a type that is not free needs a look of its own (does this region have it?), and only
    // then does the account's plan matter: a free-plan account refuses to launch it.
    if !is_free {
        let (described, plan) = tokio::join!(aws.ec2.describe_instance_types().instance_types(InstanceType::from(chosen.as_str())).send(), account_plan(aws));
        match described.aws("ec2:DescribeInstanceTypes") {
            Ok(out) if out.instance_types.as_ref().is_some_and(|t| !t.is_empty()) => {}
            Ok(_) => return Ok(None),
            Err(e) if e.code.as_deref() == Some("InvalidInstanceType") => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        if plan == "FREE" {
            return Err(super::Error::Other(Failure::new(
                format!(
                    "{chosen} is not free-tier eligible in this account, which is on the AWS free plan: EC2 refuses to launch it (InvalidParameterCombination)"
                ),
                format!(
                    "remove cluster.ec2.instance_type to use the account's free-tier type, or choose one of: {}; or upgrade the account to the paid plan",
                    free.join(", ")
                ),
            )));
        }
    }
    Ok(Some(Live {
        id: chosen.clone(),
        fields: Default::default(),
        outputs: outputs([("type", chosen), ("free", is_free.to_string()), ("free_types", free.join(", "))]),
    }))
}

/// The instance types free for the calling account, as EC2 answers, sorted.
pub async fn free_types(aws: &Aws) -> Result<Vec<String>> {
    let filter = Filter::builder().name("free-tier-eligible").values("true").build();
    let mut pages = aws.ec2.describe_instance_types().filters(filter).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.aws("ec2:DescribeInstanceTypes")?;
        out.extend(page.instance_types.unwrap_or_default().into_iter().filter_map(|t| t.instance_type.map(|t| t.as_str().to_string())));
    }
    out.sort();
    Ok(out)
}

/// `FREE` or `PAID` from the Free Tier API; `unknown` when it cannot be asked (no permission for
/// `freetier:GetAccountPlanState`, say): then only the launch itself can tell a refusal.
async fn account_plan(aws: &Aws) -> String {
    match aws.freetier.get_account_plan_state().send().await {
        Ok(out) => out.account_plan_type.as_str().to_string(),
        Err(e) => {
            tracing::debug!("freetier:GetAccountPlanState: {e:?}");
            "unknown".into()
        }
    }
}

/// The plan's warning when the instances' type is not free in this account (the guardrail
/// applies: apply refuses it without --allow-cost).
pub fn cost_warning(plan: &Plan) -> Option<String> {
    let live = plan.changes.iter().find(|c| c.address == ADDRESS)?.live.as_ref()?;
    (live.outputs.get("free").map(String::as_str) == Some("false")).then(|| {
        let free = live.outputs.get("free_types").filter(|f| !f.is_empty()).map(String::as_str).unwrap_or("none");
        format!("cluster.ec2.instance_type: {} is not free-tier eligible in this account (free here: {free}): it is billed by the hour", live.id)
    })
}
