"""Backend workers: the supervisor that keeps the RQ workers of every queue running."""
