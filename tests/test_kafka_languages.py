"""A Kafka worker's warnings in the operator's language (docs/reference.md §7,
"Language"): records it quarantines and rules that fail are logged in Chinese with
``--lang zh_CN``, while what it stores stays the same as in English."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from engage_rules.i18n import use_language
from engage_rules.model import event_problems
from engage_rules.testing import HEADER, event_line
from kafka_helpers import MockCluster, WorkerProcess, contents, wait_committed, worker_config
from pg_helpers import new_schema

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.subprocess]

PLAYBOOK = HEADER + (
    'rules:\n  - id: pay\n    on: pay.me\n    do:\n      - award: {amount: "{{ event.data.n }}"}\n'
)


def _run(
    lang: str, cluster: MockCluster, pg_database: str, tmp_path: Path
) -> tuple[str, dict[str, object]]:
    """Feed one worker (in ``lang``) a failing rule's event and three bad records: its
    log, and what its store holds."""
    playbook = tmp_path / f"pay-{lang}.yaml"
    playbook.write_text(PLAYBOOK, "utf-8")
    topic, url = f"t-{uuid.uuid4().hex[:8]}", new_schema(pg_database)
    config = worker_config(tmp_path, cluster.bootstrap, topic, url, playbook=playbook)
    paid = event_line("pay.me", "u1", id="p1", data={"n": "abc"})
    cluster.produce(topic, [paid])
    cluster.produce(topic, ["{not json", ""], key="default")
    cluster.produce(topic, [paid.replace('"p1"', '"p2"')], key="elsewhere")
    worker = WorkerProcess(config, tmp_path / f"{lang}.log", lang=lang)
    try:
        worker.wait_assigned()
        wait_committed(url, topic, 4)
    finally:
        assert worker.stop() == 0, worker.text()
    return worker.text(), contents(url)


def test_the_worker_logs_quarantine_and_rule_errors_in_chinese(
    mock_cluster: MockCluster, pg_database: str, tmp_path: Path
) -> None:
    english, stored_en = _run("en", mock_cluster, pg_database, tmp_path)
    chinese, stored_zh = _run("zh_CN", mock_cluster, pg_database, tmp_path)
    assert stored_en == stored_zh  # the data is the same in both languages
    assert "rule pay failed on p1: award: amount 'abc' is not a number" in english
    assert english.count("quarantined record ") == 3, english
    assert "the record's key b'elsewhere' is not the community of its event" in english
    assert "规则 pay 处理 p1 时出错：award: 数量 'abc' 不是数字" in chinese, chinese
    assert "quarantined record" not in chinese and chinese.count("已隔离记录 ") == 3, chinese
    with use_language("zh_CN"):
        empty = event_problems.in_words(event_problems.EMPTY_RECORD)
    assert f"：empty_record：{empty}" in chinese and empty == "这条记录没有内容"
    assert "这条记录的键 b'elsewhere' 不是其事件所属的社群（'default'）" in chinese
    assert "：bad_json：不是合法的 JSON：" in chinese
