//! The load balancer's HTTP listener (port 80 in the tutorial), forwarding to the target group.

use std::collections::HashMap;

use aws_sdk_elasticloadbalancingv2::types::{Action as ElbAction, ActionTypeEnum, ProtocolEnum};
use serde_json::json;

use super::{field, load_balancer, outputs, target_group, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::plan::{reference, Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::{LoadBalancer, Spec};

pub const KIND: &str = "listener";

pub fn address(lb: &LoadBalancer) -> String {
    format!("{KIND}.{}", lb.name)
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(lb) = &spec.load_balancer else { return vec![] };
    let (alb, tg) = (load_balancer::address(lb), target_group::address(lb));
    let fields =
        [("load_balancer", reference(&alb, "arn")), ("port", json!(lb.listener_port)), ("protocol", json!("HTTP")), ("target_group", reference(&tg, "arn"))];
    vec![Desired {
        address: address(lb),
        kind: KIND.into(),
        name: format!("{}:{}", lb.name, lb.listener_port),
        fields: crate::plan::fields(fields),
        replace_on: vec!["port".into(), "load_balancer".into()],
        depends_on: vec![alb, tg],
        reads: vec![load_balancer::address(lb)],
        ..Default::default()
    }]
}

pub async fn observe(aws: &Aws, d: &Desired, deps: &HashMap<Address, Live>) -> Result<Option<Live>> {
    let Some(lb) = deps.get(&d.depends_on[0]) else { return Ok(None) };
    let listeners =
        aws.elbv2.describe_listeners().load_balancer_arn(&lb.id).into_paginator().items().send().try_collect().await.aws("elbv2:DescribeListeners")?;
    let port = d.fields["port"].as_i64().unwrap_or(80) as i32;
    let Some(l) = listeners.into_iter().find(|l| l.port == Some(port)) else { return Ok(None) };
    let tg = l.default_actions().iter().find_map(|a| a.target_group_arn.clone()).unwrap_or_default();
    let arn = l.listener_arn.clone().unwrap_or_default();
    let fields = [
        ("load_balancer", json!(lb.id)),
        ("port", json!(port)),
        ("protocol", json!(l.protocol.as_ref().map(|p| p.as_str()).unwrap_or("HTTP"))),
        ("target_group", json!(tg)),
    ];
    Ok(Some(Live { id: arn.clone(), fields: crate::plan::fields(fields), outputs: outputs([("arn", arn)]) }))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let forward = ElbAction::builder().r#type(ActionTypeEnum::Forward).target_group_arn(field(fields, "target_group")).build();
    if let (Some(live), true) = (&c.live, c.action.in_place()) {
        aws.elbv2.modify_listener().listener_arn(&live.id).protocol(ProtocolEnum::Http).default_actions(forward).send().await.aws("elbv2:ModifyListener")?;
        return Ok(live.outputs.clone());
    }
    if let Some(live) = &c.live {
        aws.elbv2.delete_listener().listener_arn(&live.id).send().await.aws("elbv2:DeleteListener")?;
    }
    let out = aws
        .elbv2
        .create_listener()
        .load_balancer_arn(field(fields, "load_balancer"))
        .port(fields["port"].as_i64().unwrap_or(80) as i32)
        .protocol(ProtocolEnum::Http)
        .default_actions(forward)
        .send()
        .await
        .aws("elbv2:CreateListener")?;
    let arn = out.listeners.unwrap_or_default().into_iter().next().and_then(|l| l.listener_arn).unwrap_or_default();
    Ok(outputs([("arn", arn)]))
}

pub async fn delete(aws: &Aws, c: &Change) -> Result<Outputs> {
    let live = c.live.as_ref().expect("a deletion has a live resource");
    aws.elbv2.delete_listener().listener_arn(&live.id).send().await.aws("elbv2:DeleteListener")?;
    Ok(Outputs::new())
}
