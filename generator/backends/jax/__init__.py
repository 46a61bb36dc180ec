"""The jax backends: AD by jax, compiled at import or exported as jax.export artifacts."""
