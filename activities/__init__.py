"""Effects and the pure domain logic under them: validation, landing-zone terms, letters, storage."""
