//! `${VAR}` and `${VAR:-default}` in string values, from the environment; `$${` writes a literal
//! `${`. Done on parsed values, never on raw text, so comments and keys are left alone.

use super::diag::{Diagnostic, KeyPath};

pub fn interpolate(value: &mut toml::Value, env: &dyn Fn(&str) -> Option<String>) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    walk(value, &KeyPath::root(), env, &mut errors);
    errors
}

fn walk(value: &mut toml::Value, path: &KeyPath, env: &dyn Fn(&str) -> Option<String>, errors: &mut Vec<Diagnostic>) {
    match value {
        toml::Value::String(s) if s.contains('$') => match expand(s, env) {
            Ok(expanded) => *s = expanded,
            Err(d) => errors.push(Diagnostic { path: path.clone(), ..d }),
        },
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &path.index(i), env, errors);
            }
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                walk(v, &path.key(k.as_str()), env, errors);
            }
        }
        _ => {}
    }
}

/// Expand one string. The error's path is filled in by the caller.
pub fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Diagnostic> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("${") {
            let Some(end) = r.find('}') else {
                return Err(Diagnostic::error(KeyPath::root(), format!("unclosed `${{` in \"{s}\""))
                    .hint("write ${NAME} with a closing brace, or $${ for a literal ${"));
            };
            let inner = &r[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(Diagnostic::error(KeyPath::root(), format!("`${{{inner}}}` is not a valid variable reference"))
                    .hint("variable names are letters, digits and _; write ${NAME} or ${NAME:-default}"));
            }
            match (env(name).filter(|v| !v.is_empty()), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(Diagnostic::error(KeyPath::root(), format!("environment variable `{name}` is not set"))
                        .hint(format!("export {name}=… before running ecsdeploy, or give a default: ${{{name}:-value}}")))
                }
            }
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn env(name: &str) -> Option<String> {
        match name {
            "TAG" => Some("v2".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_set_default_and_escape() {
        assert_eq!(expand("repo:${TAG}", &env).unwrap(), "repo:v2");
        assert_eq!(expand("repo:${NOPE:-latest}", &env).unwrap(), "repo:latest");
        assert_eq!(expand("${EMPTY:-x}", &env).unwrap(), "x");
        assert_eq!(expand("cost $5 and $${TAG}", &env).unwrap(), "cost $5 and ${TAG}");
    }

    #[test]
    fn unset_and_malformed_are_errors_with_hints() {
        let e = expand("${NOPE}", &env).unwrap_err();
        assert!(e.message.contains("`NOPE` is not set"));
        assert!(e.hint.unwrap().contains("${NOPE:-value}"));
        assert!(expand("${TAG", &env).unwrap_err().message.contains("unclosed"));
        assert!(expand("${A-B}", &env).unwrap_err().message.contains("not a valid variable reference"));
    }
}
