"""Deployments: Compose projects found in the deployments folder or adopted from the engine."""

from stackmedic.deployments.model import Deployment, DeploymentKind
from stackmedic.deployments.names import InvalidName, validate_name

__all__ = ["Deployment", "DeploymentKind", "InvalidName", "validate_name"]
