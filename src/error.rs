//! The error every command returns, and the exit code each kind maps to.

use crate::aws::AwsError;
use crate::spec::SpecError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is wrong: exit 2, no AWS call was made.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Bad flags or arguments: exit 2.
    #[error("{message}")]
    Usage { message: String, hint: String },
    /// AWS said no, or could not be reached: exit 1.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Spec(_) | Error::Usage { .. } => 2,
            Error::Aws(_) => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
