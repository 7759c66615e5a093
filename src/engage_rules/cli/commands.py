"""The built-in commands, registered through the ``register_commands`` hook exactly as a
plugin registers its own (the plugin manager loads this module as the built-in plugin
``builtin-commands``).  Each command lives in its own module: ``configure(parser)`` adds
its arguments, ``cmd_<name>(args)`` runs it."""

from __future__ import annotations

from ..i18n import N_
from ..plugins.hookspecs import RegisterCommand, hookimpl


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    """init, validate, replay, backtest, explain, review, audit, report, test, schema,
    completion, plugins, run, ingest, worker, dispatch."""
    from . import (
        audit,
        backtest,
        completion,
        explain,
        init,
        plugins,
        replay,
        report,
        review,
        run,
        run_tests,
        scale_out,
        schema,
        validate,
    )

    register(
        "init",
        init.configure,
        init.cmd_init,
        N_("write a playbook to start from, with its tests and sample events"),
    )
    register(
        "validate",
        validate.configure,
        validate.cmd_validate,
        N_("check playbooks; print file:line:col problems"),
    )
    register(
        "replay",
        replay.configure,
        replay.cmd_replay,
        N_("process a JSONL event file with a virtual clock"),
    )
    register(
        "backtest",
        backtest.configure,
        backtest.cmd_backtest,
        N_("replay (or compare two playbooks) split by community on Dask"),
    )
    register(
        "explain",
        explain.configure,
        explain.cmd_explain,
        N_("why rules did or did not fire for an event or a member"),
    )
    register(
        "review",
        review.configure,
        review.cmd_review,
        N_("list, approve or dismiss items flagged for review"),
    )
    register(
        "audit",
        audit.configure,
        audit.cmd_audit,
        N_("export the moderation audit log as JSON Lines"),
    )
    register(
        "report",
        report.configure,
        report.cmd_report,
        N_(
            "activity, growth, retention and conversion figures, as tables or an HTML "
            "report with charts"
        ),
    )
    register(
        "test", run_tests.configure, run_tests.cmd_test, N_("run playbook test files (*.test.yaml)")
    )
    register(
        "schema",
        schema.configure,
        schema.cmd_schema,
        N_("print the JSON Schema of the playbook language"),
    )
    register(
        "completion",
        completion.configure,
        completion.cmd_completion,
        N_("print a shell completion script (bash, zsh or fish)"),
    )
    register(
        "plugins",
        plugins.configure,
        plugins.cmd_plugins,
        N_("list installed plugins and what each registers"),
    )
    register(
        "run",
        run.configure,
        run.cmd_run,
        N_("the live runtime: sources → engine → store → adapters"),
    )
    register(
        "ingest",
        scale_out.configure,
        scale_out.cmd_ingest,
        N_("scaled out: verified webhook events onto a Kafka topic, keyed by community"),
    )
    register(
        "worker",
        scale_out.configure,
        scale_out.cmd_worker,
        N_("scaled out: decide a Kafka topic's events into a shared PostgreSQL store"),
    )
    register(
        "dispatch",
        scale_out.configure,
        scale_out.cmd_dispatch,
        N_("scaled out: deliver a shared PostgreSQL outbox (with other dispatchers)"),
    )
