//! The only module that prints. Results go to stdout, diagnostics and progress to stderr.

use crate::error::Error;
use crate::spec::Loaded;

pub fn error(e: &Error) {
    match e {
        Error::Spec(s) => eprintln!("{}", s.render()),
        Error::Usage { message, hint } => eprintln!("error: {message}\n  = hint: {hint}"),
        Error::Aws(a) => {
            eprintln!("error: {a}");
            if let Some(h) = &a.hint {
                eprintln!("  = hint: {h}");
            }
        }
    }
}

pub fn spec_warnings(loaded: &Loaded) {
    if !loaded.warnings.is_empty() {
        eprintln!("{}", loaded.render_warnings());
    }
}

pub fn validated(loaded: &Loaded) {
    let s = &loaded.spec;
    println!(
        "{} is valid: stack `{}`, cluster `{}`, {} role(s), {} task definition(s), {} service(s), {} job(s), {} ingress rule(s){}",
        loaded.file.name,
        s.stack.name,
        s.cluster.name,
        s.roles.len(),
        s.tasks.len(),
        s.services.len(),
        s.jobs.len(),
        s.ingress.len(),
        match loaded.warnings.len() {
            0 => String::new(),
            n => format!(", {n} warning(s)"),
        }
    );
}
