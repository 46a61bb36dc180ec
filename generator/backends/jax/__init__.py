"""The jax backends: AD by jax, compiled on first call from the kernel or a jax.export artifact."""
