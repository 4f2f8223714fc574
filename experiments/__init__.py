"""Scripts that produce and check the project's published numbers (run from the repository root)."""
