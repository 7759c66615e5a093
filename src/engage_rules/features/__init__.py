"""Every playbook section beyond rules, as a :class:`~engage_rules.compile.feature.Feature`
(points, levels, badges, flows, messaging, moderation...), registered by the built-in
plugin."""
