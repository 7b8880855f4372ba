"""The spine: CLI, config composition, stage runner, gates, budget and MLflow recording.

Only this package knows the order of stages and only this package talks to MLflow.
"""
