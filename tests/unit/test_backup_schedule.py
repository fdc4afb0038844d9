# -*- coding: utf-8 -*-
# Copyright: openblade.kvm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup schedule's example pipeline (docs/backup-schedule.gitlab-ci.yml): valid YAML,
jobs that run only from a schedule, one at a time, and playbooks of this collection that
exist, run the way ansible-playbook can find them, with the variables they read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible.utils.collection_loader import AnsibleCollectionRef

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "backup-schedule.gitlab-ci.yml"
INSTALLED = "collections/ansible_collections/openblade/kvm/"


def jobs():
    pipeline = yaml.safe_load(EXAMPLE.read_text())
    return {name: job for name, job in pipeline.items() if isinstance(job, dict) and "script" in job}


def playbook_of(job):
    """The playbook a job's ansible-playbook runs, as a path in this repository."""
    command = " ".join(job["script"])
    match = re.search(r"ansible-playbook\s.*?\s(openblade\.kvm\.[\w-]+|\S+\.yml)(\s|$)", command)
    assert match, f"no ansible-playbook of a playbook in {command!r}"
    ref = match.group(1)
    if ref.startswith("openblade.kvm."):
        # ansible-playbook resolves a collection playbook only by a valid FQCN (no '-').
        assert AnsibleCollectionRef.is_valid_fqcr(ref, "playbook"), ref
        return REPO / "playbooks" / (ref.removeprefix("openblade.kvm.") + ".yml")
    assert ref.startswith(INSTALLED), f"{ref} is not a playbook of the installed collection"
    return REPO / ref.removeprefix(INSTALLED)


def test_the_example_is_a_pipeline_with_the_backup_and_restore_test_jobs():
    assert set(jobs()) == {"backup", "restore-test"}
    before = " ".join(yaml.safe_load(EXAMPLE.read_text())["default"]["before_script"])
    assert "-p collections" in before and "ANSIBLE_COLLECTIONS_PATH=$CI_PROJECT_DIR/collections" in before


@pytest.mark.parametrize("name", ["backup", "restore-test"])
def test_each_job_runs_only_from_its_schedule_and_never_beside_another(name):
    job = jobs()[name]
    assert job["rules"] == [{"if": f'$CI_PIPELINE_SOURCE == "schedule" && $OPENBLADE_JOB == "{name}"'}]
    assert job["resource_group"] == "production"
    assert job["artifacts"]["when"] == "always"


@pytest.mark.parametrize("name, playbook, variables", [
    ("backup", "backup.yml", ["backup_target", "backup_retention", "backup_label"]),
    ("restore-test", "restore-test.yml",
     ["restore_test_guests", "restore_test_source", "restore_test_backup_blade"]),
])
def test_each_job_runs_a_playbook_that_exists_and_reads_what_the_docs_name(name, playbook, variables):
    path = playbook_of(jobs()[name])
    assert path == REPO / "playbooks" / playbook and path.is_file()
    plays = yaml.safe_load(path.read_text())
    assert isinstance(plays, list) and all("hosts" in play for play in plays)
    text = path.read_text() + "".join(p.read_text() for p in (REPO / "playbooks" / "tasks").glob("*.yml"))
    for variable in variables:
        assert variable in text, f"{playbook} does not read {variable}"
        assert variable in EXAMPLE.read_text() or variable.startswith("backup_"), variable
