//! A rough monthly cost of what the stack runs, against the AWS free tier: the tutorial's whole
//! point is to stay inside it. On-demand list prices of us-east-1; an estimate, not a bill.

/// Hours in an average month, and the free tier's instance hours (of the types free in the account).
const HOURS: f64 = 730.0;
const FREE_INSTANCE_HOURS: f64 = 750.0;

fn instance_hourly(instance_type: &str) -> f64 {
    match instance_type {
        "t2.micro" => 0.0116,
        "t3.micro" => 0.0104,
        "t2.small" => 0.023,
        "t3.small" => 0.0208,
        "t2.medium" => 0.0464,
        "t3.medium" => 0.0416,
        _ => 0.10,
    }
}

/// Fargate, per vCPU-hour and GB-hour (Linux/x86).
const FARGATE_VCPU: f64 = 0.04048;
const FARGATE_GB: f64 = 0.004445;
/// An Application Load Balancer's hour, before capacity units.
const ALB_HOURLY: f64 = 0.0225;

#[derive(Debug, Default, PartialEq)]
pub struct Estimate {
    /// Dollars a month, after the free tier.
    pub monthly: f64,
    /// What the free tier does not cover, one line each.
    pub beyond_free_tier: Vec<String>,
}

/// `instances`: instance types running; `free`: the types free in this account (EC2's answer,
/// since the free tier depends on the account); `fargate`: (cpu units, MiB) per running Fargate task.
pub fn estimate(instances: &[String], free: &[String], fargate: &[(u32, u32)], load_balancer: bool) -> Estimate {
    let mut e = Estimate::default();
    let mut free_hours = FREE_INSTANCE_HOURS;
    for t in instances {
        let hours = if free.contains(t) {
            let covered = free_hours.min(HOURS);
            free_hours -= covered;
            HOURS - covered
        } else {
            HOURS
        };
        if hours > 0.0 {
            e.monthly += hours * instance_hourly(t);
            let why = if free.contains(t) { String::new() } else { " (not free-tier eligible in this account)".to_string() };
            e.beyond_free_tier.push(format!("{t}: {hours:.0} instance-hours a month beyond the free tier{why}"));
        }
    }
    for (cpu, mem) in fargate {
        e.monthly += HOURS * (f64::from(*cpu) / 1024.0 * FARGATE_VCPU + f64::from(*mem) / 1024.0 * FARGATE_GB);
        e.beyond_free_tier.push(format!("Fargate task {cpu} CPU / {mem} MiB: Fargate is never free"));
    }
    if load_balancer {
        e.monthly += HOURS * ALB_HOURLY;
        e.beyond_free_tier.push("Application Load Balancer: billed by the hour (plus capacity units)".into());
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_micro_instance_is_free_and_the_rest_is_not() {
        let legacy = ["t2.micro".to_string()];
        assert_eq!(estimate(&["t2.micro".into()], &legacy, &[], false), Estimate::default());
        let two = estimate(&["t2.micro".into(), "t2.micro".into()], &legacy, &[], false);
        assert!((two.monthly - 710.0 * 0.0116).abs() < 0.01, "{two:?}");
        // The free tier is the account's: t2.micro on a free-plan account is billed in full.
        let free_plan = ["t3.micro".to_string(), "t3.small".to_string()];
        assert_eq!(estimate(&["t3.micro".into()], &free_plan, &[], false), Estimate::default());
        let t2 = estimate(&["t2.micro".into()], &free_plan, &[], false);
        assert!((t2.monthly - 730.0 * 0.0116).abs() < 0.01 && t2.beyond_free_tier[0].contains("not free-tier eligible"), "{t2:?}");
        let fargate = estimate(&[], &[], &[(256, 512)], true);
        assert!(fargate.monthly > 20.0 && fargate.beyond_free_tier.len() == 2, "{fargate:?}");
    }
}
