//! AWS errors sorted into the few kinds callers act on, so no caller matches error strings.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The thing asked about does not exist: create it, or treat it as already deleted.
    NotFound,
    /// A create found the thing already there: observe it instead.
    AlreadyExists,
    /// The service asked us to slow down.
    Throttled,
    /// Worth retrying: timeouts, connection failures, 5xx.
    Retryable,
    /// Bad credentials, access denied, invalid parameters, and everything else.
    Fatal,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct AwsError {
    pub kind: ErrorKind,
    /// `service:Operation`, e.g. `ecs:CreateService`.
    pub operation: String,
    /// The AWS error code, when the service sent one.
    pub code: Option<String>,
    pub message: String,
    /// What the user can do about it.
    pub hint: Option<String>,
}

impl AwsError {
    /// A problem found before calling AWS (no region, say).
    pub fn usage(message: &str, hint: &str) -> Self {
        AwsError { kind: ErrorKind::Fatal, operation: "configuration".into(), code: None, message: message.into(), hint: Some(hint.into()) }
    }

    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    /// AWS refuses a deletion because something still uses the resource (it will let go).
    pub fn is_in_use(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "DependencyViolation"
                    | "ResourceInUse"
                    | "ResourceInUseException"
                    | "ClusterContainsContainerInstancesException"
                    | "ClusterContainsServicesException"
                    | "ClusterContainsTasksException"
                    | "ResourceInUseFault"
                    | "DeleteConflict"
                    | "ScalingActivityInProgress"
                    // DeleteCapacityProvider's answer (a 200) while a cluster still has the provider.
                    | "DELETE_FAILED"
            )
        ) || (self.code.as_deref() == Some("ClientException") && (self.message.contains("in use") || self.message.contains("cannot be deleted while")))
    }

    /// AWS has not yet propagated something just made (see [`PROPAGATING`]): retrying, bounded,
    /// is the remedy. Only the operation's own codes count, so a genuine error is never retried.
    pub fn is_propagation(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        PROPAGATING.iter().any(|(operation, code, words)| *operation == self.operation && self.code.as_deref() == Some(*code) && message.contains(words))
    }
}

/// What each operation answers while AWS propagates something just made: (operation, error
/// code, words of the message, lower case; "" for any). Eventual consistency is AWS's rule for
/// IAM, EC2 and ECS; terraform-provider-aws retries these same answers.
const PROPAGATING: &[(&str, &str, &str)] = &[
    // A new instance profile (or its role) is not yet known to EC2 (TF autoscaling/group.go).
    ("autoscaling:CreateAutoScalingGroup", "ValidationError", "invalid iam instance profile"),
    ("autoscaling:UpdateAutoScalingGroup", "ValidationError", "invalid iam instance profile"),
    // A new role is not yet known to the instance profile (TF iam/instance_profile.go).
    ("iam:AddRoleToInstanceProfile", "NoSuchEntity", ""),
    // ECS creates its service-linked role on first use and cannot assume it at once (TF ecs/cluster.go).
    ("ecs:CreateCluster", "InvalidParameterException", "unable to assume the service linked role"),
    ("ecs:CreateService", "InvalidParameterException", "unable to assume the service linked role"),
    ("ecs:RunTask", "InvalidParameterException", "unable to assume the service linked role"),
    // A new listener's target group looks unattached to ECS for a moment (TF ecs/service.go).
    ("ecs:CreateService", "InvalidParameterException", "does not have an associated load balancer"),
    // A service of the same name still draining after its deletion (a destroy just before).
    ("ecs:CreateService", "InvalidParameterException", "still draining"),
    // A new security group is not yet known to the next call (TF ec2: RetryWhenNotFound).
    ("ec2:AuthorizeSecurityGroupIngress", "InvalidGroup.NotFound", ""),
    ("ec2:CreateTags", "InvalidGroup.NotFound", ""),
    // The cluster is still applying an earlier change of its providers (TF ecs/cluster_capacity_providers.go).
    ("ecs:PutClusterCapacityProviders", "UpdateInProgressException", ""),
];

/// `.aws("ecs:CreateService")` turns an SDK error into an [`AwsError`].
pub trait AwsResultExt<T> {
    fn aws(self, operation: &str) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    fn aws(self, operation: &str) -> Result<T, AwsError> {
        self.map_err(|e| classify(operation, &e))
    }
}

fn classify<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let (kind, code, message) = match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().map(str::to_string);
            let message = se.err().message().unwrap_or("").to_string();
            let status = se.raw().status().as_u16();
            (kind_of(code.as_deref().unwrap_or(""), &message, status), code, message)
        }
        SdkError::TimeoutError(_) => (ErrorKind::Retryable, None, "the request timed out".to_string()),
        SdkError::ResponseError(_) => (ErrorKind::Retryable, None, format!("the response could not be read ({})", cause(err))),
        SdkError::DispatchFailure(d) if d.is_timeout() || d.is_io() => (ErrorKind::Retryable, None, format!("cannot reach AWS: {}", cause(err))),
        _ => (ErrorKind::Fatal, None, cause(err)),
    };
    let hint = hint_for(code.as_deref(), &message);
    AwsError { kind, operation: operation.to_string(), code, message, hint }
}

/// The most telling message in an error's chain, without the SDK's debug dump: the part about
/// credentials when there is one, else the innermost cause.
fn cause(err: &(dyn StdError + 'static)) -> String {
    let mut chain = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        chain.push(e.to_string());
        cur = e.source();
    }
    if let Some(c) = chain.iter().find(|m| m.contains("credentials")) {
        return format!("no usable AWS credentials: {}", c.trim_start_matches("other: "));
    }
    chain.into_iter().rev().find(|m| !m.is_empty()).unwrap_or_else(|| DisplayErrorContext(err).to_string())
}

/// The one place that knows AWS's error codes.
fn kind_of(code: &str, message: &str, status: u16) -> ErrorKind {
    const NOT_FOUND: &[&str] = &[
        "NoSuchEntity",
        "ResourceNotFoundException",
        "ClusterNotFoundException",
        "ServiceNotFoundException",
        "ServiceNotActiveException",
        "RepositoryNotFoundException",
        "ImageNotFoundException",
        "InvalidGroup.NotFound",
        "InvalidInstanceID.NotFound",
        "InvalidLaunchTemplateName.NotFoundException",
        "InvalidLaunchTemplateId.NotFound",
        "InvalidLaunchTemplateId.VersionNotFound",
        "LoadBalancerNotFound",
        "TargetGroupNotFound",
        "ListenerNotFound",
        "InvalidPermission.NotFound",
        "InvalidKeyPair.NotFound",
        "InvalidSubnetID.NotFound",
        "InvalidVpcID.NotFound",
        "InvalidAMIID.NotFound",
        "LogGroupNotFound",
    ];
    const EXISTS: &[&str] = &[
        "EntityAlreadyExists",
        "InvalidGroup.Duplicate",
        "InvalidPermission.Duplicate",
        "AlreadyExists",
        "AlreadyExistsFault",
        "ResourceAlreadyExistsException",
        "RepositoryAlreadyExistsException",
        "DuplicateLoadBalancerName",
        "DuplicateTargetGroupName",
        "DuplicateListener",
        "InvalidLaunchTemplateName.AlreadyExistsException",
    ];
    const THROTTLED: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "Throttled",
        "LimitExceededException.Throttling",
    ];
    const RETRYABLE: &[&str] = &["ServiceUnavailable", "InternalFailure", "InternalError", "ServerException", "RequestTimeout"];
    if NOT_FOUND.contains(&code) {
        ErrorKind::NotFound
    } else if EXISTS.contains(&code) {
        ErrorKind::AlreadyExists
    } else if THROTTLED.contains(&code) || status == 429 {
        ErrorKind::Throttled
    } else if RETRYABLE.contains(&code) || status >= 500 {
        ErrorKind::Retryable
    } else if code == "ValidationError" && message.contains("not found") {
        // Auto Scaling reports a missing group this way.
        ErrorKind::NotFound
    } else if code == "ValidationError" && message.contains("already exists") {
        ErrorKind::AlreadyExists
    } else {
        ErrorKind::Fatal
    }
}

fn hint_for(code: Option<&str>, message: &str) -> Option<String> {
    let hint = match code {
        Some("ExpiredToken" | "ExpiredTokenException" | "RequestExpired") => {
            "your credentials have expired: renew them (aws sso login, or new session keys) and retry"
        }
        Some("InvalidClientTokenId" | "UnrecognizedClientException" | "SignatureDoesNotMatch" | "AuthFailure" | "InvalidAccessKeyId") => {
            "the credentials were refused: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the --profile you chose"
        }
        Some("AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation") => {
            "these credentials may not perform this call: grant the permission to your IAM user or role"
        }
        _ if message.starts_with("no usable AWS credentials") => {
            "no AWS credentials found: run `aws configure`, set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        }
        _ if message.starts_with("cannot reach AWS") || message.contains("dns error") || message.contains("Connection refused") => {
            "the AWS endpoint is unreachable: check the network, the region name, and AWS_ENDPOINT_URL if set"
        }
        _ => return None,
    };
    Some(hint.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_of("NoSuchEntity", "", 404), ErrorKind::NotFound);
        assert_eq!(kind_of("InvalidGroup.Duplicate", "", 400), ErrorKind::AlreadyExists);
        assert_eq!(kind_of("RequestLimitExceeded", "", 503), ErrorKind::Throttled);
        assert_eq!(kind_of("ThrottlingException", "", 400), ErrorKind::Throttled);
        assert_eq!(kind_of("InternalFailure", "", 500), ErrorKind::Retryable);
        assert_eq!(kind_of("ValidationError", "AutoScalingGroup name not found - x", 400), ErrorKind::NotFound);
        assert_eq!(kind_of("AccessDenied", "", 403), ErrorKind::Fatal);
    }

    #[test]
    fn expired_and_denied_credentials_say_what_to_do() {
        assert!(hint_for(Some("ExpiredToken"), "").unwrap().contains("expired"));
        assert!(hint_for(Some("AccessDeniedException"), "").unwrap().contains("grant the permission"));
        assert!(hint_for(Some("UnrecognizedClientException"), "").unwrap().contains("--profile"));
        assert!(hint_for(None, "no usable AWS credentials: …").unwrap().contains("aws configure"));
    }
}
