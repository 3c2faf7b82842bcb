//! The error every command returns, and the exit code each kind maps to.

use crate::aws::AwsError;
use crate::engine::PlanError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is wrong: exit 2, no AWS call was made.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Bad flags or arguments, or a refusal the user can lift with a flag: exit 2.
    #[error("{message}")]
    Usage { message: String, hint: String },
    /// AWS said no, or could not be reached: exit 1.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Planning found something missing or inconsistent in the account: exit 1.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The work was done in part; the message says what failed: exit 1.
    #[error("{message}")]
    Failed { message: String, hint: Option<String> },
    /// Ctrl-C or SIGTERM: the run stopped early on purpose; `resume` continues it. Exit 130.
    #[error("{message}")]
    Interrupted { message: String, resume: String },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Spec(_) | Error::Usage { .. } => 2,
            Error::Aws(_) | Error::Plan(_) | Error::Failed { .. } => 1,
            Error::Interrupted { .. } => crate::interrupt::EXIT_CODE,
        }
    }

    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage { message: message.into(), hint: hint.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
