"""What makes a run: building it from a config, running it as a Hydra job, its files."""
