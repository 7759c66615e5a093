"""Compiling a loaded playbook (pure): the Feature protocol, the compile driver and the
:class:`~.playbook.CompiledPlaybook` the engine runs."""
