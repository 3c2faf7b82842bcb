//! `cpu` and `memory` as the console writes them ("0.25 vCPU", "0.5 GB") or in ECS's own units
//! (CPU units, MiB). Read into ECS's units, so everything after parsing (validation, the plan,
//! the task definition) sees one unit. The console and ECS's API count 1 GB as 1024 MiB.

use serde::{de, Deserialize, Deserializer};

/// What a `cpu` or `memory` value may be written as.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Int(i64),
    Float(f64),
    Text(String),
}

/// Separates a message from its remedy inside a serde error (split again in `type_error`).
pub(crate) const REMEDY: &str = "\u{1f}remedy: ";

const CPU_REMEDY: &str = "write CPU units (cpu = 256; 1024 units = 1 vCPU) or the console's form (cpu = \"0.25 vCPU\")";
const MEMORY_REMEDY: &str = "write MiB (memory = 512) or the console's form (memory = \"0.5 GB\", \"512 MiB\"; 1 GB = 1024 MiB)";

/// CPU units from `256`, `"256"`, `"0.25 vCPU"` or `"1 vcpu"`.
pub fn cpu_units(written: &str) -> Result<u32, String> {
    let (number, unit) = split(written);
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "units" | "cpu units" => 1.0,
        "vcpu" | "vcpus" => 1024.0,
        _ => return Err(format!("`{written}` is not a CPU size")),
    };
    whole(number, factor, written, "CPU units")
}

/// MiB from `512`, `"512"`, `"512 MiB"`, `"512 MB"`, `"0.5 GB"` or `"1 GiB"`.
pub fn memory_mib(written: &str) -> Result<u32, String> {
    let (number, unit) = split(written);
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "mib" | "mb" => 1.0,
        "gib" | "gb" => 1024.0,
        _ => return Err(format!("`{written}` is not a memory size")),
    };
    whole(number, factor, written, "MiB")
}

fn split(written: &str) -> (&str, &str) {
    let w = written.trim();
    let at = w.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(w.len());
    (&w[..at], w[at..].trim())
}

fn whole(number: &str, factor: f64, written: &str, unit: &str) -> Result<u32, String> {
    let n: f64 = number.parse().map_err(|_| format!("`{written}` does not start with a number"))?;
    let value = n * factor;
    // ECS takes whole units only: "0.3 vCPU" is 307.2 CPU units, which it refuses.
    if value.fract() != 0.0 || value > f64::from(u32::MAX) {
        return Err(format!("`{written}` is {value} {unit}, not a whole number of {unit}"));
    }
    Ok(value as u32)
}

fn read<'de, D: Deserializer<'de>>(d: D, what: &str, parse: fn(&str) -> Result<u32, String>, remedy: &str) -> Result<Option<u32>, D::Error> {
    let refuse = |message: String| de::Error::custom(format!("{message}{REMEDY}{remedy}"));
    match Option::<Written>::deserialize(d)? {
        None => Ok(None),
        Some(Written::Int(n)) => u32::try_from(n).map(Some).map_err(|_| refuse(format!("{what} = {n} is out of range"))),
        // A bare 0.25 is neither CPU units nor MiB: say which forms mean it.
        Some(Written::Float(f)) => Err(refuse(format!("{what} = {f} is not a whole number of {}", if what == "cpu" { "CPU units" } else { "MiB" }))),
        Some(Written::Text(t)) => parse(&t).map(Some).map_err(refuse),
    }
}

/// `#[serde(deserialize_with)]` for a `cpu` field.
pub fn de_cpu<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    read(d, "cpu", cpu_units, CPU_REMEDY)
}

/// `#[serde(deserialize_with)]` for a `memory` (or `memory_reservation`) field.
pub fn de_memory<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    read(d, "memory", memory_mib, MEMORY_REMEDY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consoles_forms_are_ecs_units() {
        assert_eq!(cpu_units("0.25 vCPU"), Ok(256));
        assert_eq!(cpu_units("1 vcpu"), Ok(1024));
        assert_eq!(cpu_units("512"), Ok(512));
        assert_eq!(memory_mib("0.5 GB"), Ok(512));
        assert_eq!(memory_mib("512 MiB"), Ok(512));
        assert_eq!(memory_mib("2GB"), Ok(2048));
        assert_eq!(cpu_units("0.3 vCPU"), Err("`0.3 vCPU` is 307.2 CPU units, not a whole number of CPU units".into()));
        assert_eq!(memory_mib("half a GB"), Err("`half a GB` is not a memory size".into()));
        assert_eq!(memory_mib("1 TB"), Err("`1 TB` is not a memory size".into()));
    }

    /// The console's forms reach the plan in ECS's units: the task definition asks "256"/"512".
    #[test]
    fn a_spec_in_the_consoles_words_plans_in_ecs_units() {
        let text = r#"
[stack]
name = "iris"
[cluster]
name = "demo"
[cluster.ec2]
[tasks.web]
cpu = "0.25 vCPU"
memory = "0.5 GB"
[[tasks.web.containers]]
name = "web"
image = "repo/web:1"
memory_reservation = "256 MiB"
"#;
        let loaded = crate::spec::parse("deploy.toml", text, &|_| None).expect("valid");
        let task = &loaded.spec.tasks["web"];
        assert_eq!((task.cpu, task.memory, task.containers[0].memory_reservation), (Some(256), Some(512), Some(256)));
        let td = crate::resource::desired(&loaded.spec).into_iter().find(|d| d.address == "task_definition.web").expect("task definition");
        assert_eq!((td.fields["cpu"].as_str(), td.fields["memory"].as_str()), (Some("256"), Some("512")));
    }
}
