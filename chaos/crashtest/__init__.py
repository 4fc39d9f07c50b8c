"""The crash test: scenario runs killed with SIGKILL at seeded points, and what is left after."""
