"""Diagnosis-led recovery: reconcile deployments to their desired state."""
