"""The job queue (one job runs at a time, claimed by exactly one worker) and the model history."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from crm.db import make_engine
from crm.models import TrainingJob
from crm.types import utcnow
from training import store

STALE = timedelta(minutes=30)
DB = tuple[str, sessionmaker[Session]]


def new_job(factory: sessionmaker[Session]) -> int:
    with factory.begin() as session:
        return store.create_job(session, requested_by="ops").id


def claim(factory: sessionmaker[Session], worker: str = "w1") -> int | None:
    with factory.begin() as session:
        return store.claim_next_job(session, worker=worker, stale_after=STALE)


def test_a_second_job_waits_while_one_runs(training_db: DB) -> None:
    _, factory = training_db
    first, second = new_job(factory), new_job(factory)
    assert claim(factory) == first
    assert claim(factory, "w2") is None, "no second job may run at the same time"
    with factory() as session:
        assert store.get_job(session, second).status == "queued"  # type: ignore[union-attr]
    with factory.begin() as session:
        store.finish_job(session, first, model_id=1, log_tail="")
    assert claim(factory, "w2") == second


def test_workers_racing_for_the_queue_claim_exactly_one_job(training_db: DB) -> None:
    url, _ = training_db
    engines = [make_engine(url) for _ in range(4)]
    factories = [sessionmaker(engine, expire_on_commit=False) for engine in engines]
    for _ in range(3):
        new_job(factories[0])
    results: list[int | None] = []
    barrier = threading.Barrier(len(factories))

    def race(factory: sessionmaker[Session], name: str) -> None:
        barrier.wait()
        results.append(claim(factory, name))

    threads = [threading.Thread(target=race, args=(f, f"w{i}")) for i, f in enumerate(factories)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert len([job for job in results if job is not None]) == 1
    with factories[0]() as session:
        statuses = sorted(job.status for job in store.list_jobs(session))
    assert statuses == ["queued", "queued", "running"]


def test_a_job_whose_worker_died_is_failed_and_the_queue_moves_on(training_db: DB) -> None:
    _, factory = training_db
    dead, waiting = new_job(factory), new_job(factory)
    assert claim(factory) == dead
    with factory.begin() as session:
        session.execute(
            update(TrainingJob).where(TrainingJob.id == dead).values(heartbeat_at=utcnow() - timedelta(hours=2))
        )
    assert claim(factory, "w2") == waiting
    with factory() as session:
        job = store.get_job(session, dead)
    assert job is not None and job.status == "failed" and "no heartbeat" in (job.error or "")


def test_progress_is_written_only_while_the_job_runs(training_db: DB) -> None:
    _, factory = training_db
    job_id = new_job(factory)
    claim(factory)
    with factory.begin() as session:
        store.report_progress(
            session, job_id, progress={"phase": "training", "percent": 42.5, "epoch": 3}, log_tail="x"
        )
    with factory() as session:
        job = store.get_job(session, job_id)
    assert job is not None and (job.phase, job.percent, job.progress["epoch"], job.log_tail) == (
        "training",
        42.5,
        3,
        "x",
    )


def test_one_model_is_live_and_every_deployment_is_recorded(training_db: DB) -> None:
    _, factory = training_db
    with factory.begin() as session:
        a = store.record_model(session, fingerprint="a", path="/m/a.tar.gz", job_id=None, evaluation=None)
        b = store.record_model(session, fingerprint="b", path="/m/b.tar.gz", job_id=None, evaluation=None)
        store.mark_live(session, a.id, kind="deploy", deployed_by="ops")
        store.mark_live(session, b.id, kind="deploy", deployed_by="supervisor", override_reason="urgent fix")
    with factory() as session:
        assert [m.id for m in store.list_models(session) if m.live] == [b.id]
        assert store.previous_live_model_id(session) == a.id
        assert store.was_live(session, a.id)
        [latest, first] = store.list_deployments(session)
    assert (latest.model_id, latest.previous_model_id, latest.override_reason) == (b.id, a.id, "urgent fix")
    assert (first.model_id, first.previous_model_id) == (a.id, None)


def test_make_run_serves_a_new_repository_model_but_keeps_a_deployed_one(training_db: DB, tmp_path: Path) -> None:
    _, factory = training_db
    repo_model, deployed = tmp_path / "repo.tar.gz", tmp_path / "deployed.tar.gz"
    repo_model.write_bytes(b"m")
    deployed.write_bytes(b"m")
    with factory.begin() as session:
        assert store.model_to_serve(session, fingerprint="r", path=str(repo_model)).path == str(repo_model)
    with factory.begin() as session:
        other = store.record_model(session, fingerprint="d", path=str(deployed), job_id=1, evaluation=None)
        store.mark_live(session, other.id, kind="deploy", deployed_by="ops")
    with factory.begin() as session:
        assert store.model_to_serve(session, fingerprint="r", path=str(repo_model)).path == str(deployed)
    new_repo_model = tmp_path / "edited.tar.gz"
    new_repo_model.write_bytes(b"m")
    with factory.begin() as session:
        served = store.model_to_serve(session, fingerprint="e", path=str(new_repo_model))
    assert served.path == str(new_repo_model) and served.live


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "tests/x.yml", "data/../../x"])
def test_overrides_outside_the_training_inputs_are_refused(bad: str, tmp_path: Path) -> None:
    from tests.training.conftest import PROJECT
    from training.project import OverrideError, export_project

    with pytest.raises(OverrideError):
        export_project(PROJECT, tmp_path / "out", {bad: "x"})
    assert not (tmp_path / "out").exists()


def test_ops_edits_split_into_training_and_evaluation_inputs() -> None:
    """A test story saved from a conversation review is evaluated with, not trained on; anything else is refused."""
    from training.project import OverrideError, split_overrides

    story = "stories:\n- story: reviewed\n  steps: []\n"
    training_edits, evaluation_edits = split_overrides(
        {"data/nlu/ops.yml": "nlu: []\n", "tests/stories/test_reviewed.yml": story}
    )
    assert training_edits == {"data/nlu/ops.yml": "nlu: []\n"}
    assert evaluation_edits == {"tests/stories/test_reviewed.yml": story}
    for bad in ("../etc/passwd", "tests/../data/x.yml", "policy/tiers.yml"):
        with pytest.raises(OverrideError):
            split_overrides({bad: "x"})


def test_export_lays_overrides_over_the_repository_files(tmp_path: Path) -> None:
    from tests.training.conftest import PROJECT
    from training.project import export_project, training_fingerprint

    plain = export_project(PROJECT, tmp_path / "plain")
    edited = export_project(PROJECT, tmp_path / "edited", {"data/nlu/ops.yml": "version: '3.1'\nnlu: []\n"})
    assert (edited / "data" / "nlu" / "ops.yml").read_text(encoding="utf-8").startswith("version")
    assert (edited / "domain.yml").read_bytes() == (PROJECT / "domain.yml").read_bytes()
    assert not (plain / "tests").exists()
    assert training_fingerprint(plain) == training_fingerprint(PROJECT)
    assert training_fingerprint(edited) != training_fingerprint(plain)


def test_a_queue_nobody_works_on_is_noticed(training_db: DB) -> None:
    _, factory = training_db
    job_id = new_job(factory)
    with factory() as session:
        assert not store.queue_is_stuck(session, older_than=timedelta(seconds=20))
    with factory.begin() as session:
        session.execute(
            update(TrainingJob).where(TrainingJob.id == job_id).values(created_at=utcnow() - timedelta(minutes=1))
        )
    with factory() as session:
        assert store.queue_is_stuck(session, older_than=timedelta(seconds=20))
    claim(factory)
    new_job(factory)
    with factory() as session:
        assert not store.queue_is_stuck(session, older_than=timedelta(seconds=0)), "a worker is running the queue"


def test_the_overrides_provider_is_chosen_by_setting() -> None:
    from tests.training.overrides import from_file
    from training.worker import load_overrides_provider, no_overrides

    assert load_overrides_provider("none") is no_overrides
    assert load_overrides_provider("tests.training.overrides:from_file") is from_file
    assert callable(load_overrides_provider("auto"))
    with pytest.raises(ImportError):
        load_overrides_provider("tests.training.no_such_module:f")
