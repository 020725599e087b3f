"""blueprint-pipeline: scene manifests to simulation-ready scenes and robot-training data."""

__version__ = "0.1.0"
