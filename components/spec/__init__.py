"""The declaration of an environment: models, validation and the rules behind them.

Public surface: EnvironmentSpec (and its parts), parse_environment, CONFIG_KEY, the
SecretLookup/SecretState types used to tell the validator how secrets are set, and Sibling (another
stack file beside this one, for the rules across stacks).
"""

from .cron import longest_gap
from .images import IMAGE_RULE, image_problem
from .models import (
    RAILWAY_REGIONS,
    AlertDurations,
    BackupDestination,
    Backups,
    BuildContext,
    BuildOptions,
    Database,
    EmailReceiver,
    EnvironmentSpec,
    HealthCheck,
    Monitoring,
    Receivers,
    Release,
    RestartPolicy,
    Retention,
    Service,
    SlackReceiver,
    Thresholds,
)
from .parse import CONFIG_KEY, ENVIRONMENT_KEY, NAMESPACE, parse_environment
from .references import DATABASE, SecretLookup, SecretState, published_ports
from .siblings import Sibling, shared_environments, shared_project_ids

__all__ = [
    "CONFIG_KEY",
    "DATABASE",
    "ENVIRONMENT_KEY",
    "IMAGE_RULE",
    "NAMESPACE",
    "RAILWAY_REGIONS",
    "AlertDurations",
    "BackupDestination",
    "Backups",
    "BuildContext",
    "BuildOptions",
    "Database",
    "EmailReceiver",
    "EnvironmentSpec",
    "HealthCheck",
    "Monitoring",
    "Receivers",
    "Release",
    "RestartPolicy",
    "Retention",
    "SecretLookup",
    "SecretState",
    "Service",
    "Sibling",
    "SlackReceiver",
    "Thresholds",
    "image_problem",
    "longest_gap",
    "parse_environment",
    "published_ports",
    "shared_environments",
    "shared_project_ids",
]
