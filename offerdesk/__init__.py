"""What people touch: the CLI, configuration, the embedded server launcher and the engine client."""
