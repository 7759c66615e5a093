"""The playbook language: YAML loading with positions, validation into pydantic specs, and
the parameters of every action."""
