# openblade.kvm: `make demo` runs the main job on the virtual blade lab, `make test` runs
# every tier. Both set up what they need (apt packages, .venv) on a Debian 12 host as root.
SHELL := /bin/bash
VENV := .venv/bin
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
LAB := lab/lab
# How many blades the lab tier boots (once) for all lab tests and Molecule scenarios.
LAB_BLADES ?= 3

.PHONY: help setup demo test quick lint sanity galaxy-check unit integration-host lab-up lab-tests molecule lab-down build clean bench-guests bench-storage bench-cluster bench-migrate bench-backup lab-tests-operations

help:
	@echo "make demo   - boot the lab, build the cluster of inventories/lab on it, print the report"
	@echo "make test   - every tier: lint, unit, host integration, lab + Molecule"
	@echo "make quick  - lint, unit and host integration only (no lab)"
	@echo "make bench-guests - guests vs domain loop vs community.libvirt (needs libvirtd)"
	@echo "make bench-cluster - site.yml against a ping round, with and without Mitogen, on 3 lab blades"
	@echo "make bench-migrate - guest_migrate against plain virsh migrate --copy-storage-all, on 2 lab blades"
	@echo "make bench-backup - an incremental guest_backup against restic --stdin and a qemu-img convert copy, on 2 lab blades"

setup:
	@tools/setup-host.sh

# The main job on the lab: stage the lab's golden image files (a real estate downloads its
# cloud images), build the cluster from inventories/lab, then print the capacity report.
demo: setup
	$(LAB) up --blades $(LAB_BLADES)
	$(VENV)/ansible-playbook -i inventories/lab lab/prepare.yml
	$(VENV)/ansible-playbook -i inventories/lab playbooks/site.yml
	$(VENV)/ansible-playbook -i inventories/lab playbooks/report.yml
	@cat reports/cluster-report.md
	@echo "HTML report: reports/cluster-report.html"

test: setup
	@FINALLY=lab-down tools/tiers.sh lint unit integration-host lab-up lab-tests molecule

quick: setup
	@tools/tiers.sh lint unit integration-host

lint:
	$(VENV)/ruff check plugins lab tests tools conftest.py lab/lab molecule benchmarks
	$(VENV)/python tools/check_docs.py
	$(VENV)/python tools/guest-docs.py --check
	$(VENV)/antsibull-changelog lint
	$(VENV)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	$(VENV)/ansible-lint
	$(VENV)/antsibull-docs lint-collection-docs --plugin-docs .
	$(VENV)/ansible-playbook --syntax-check -i inventories/lab playbooks/*.yml lab/prepare.yml
	$(VENV)/ansible-playbook --syntax-check -i inventories/example playbooks/*.yml
	$(MAKE) --no-print-directory galaxy-check
	$(MAKE) --no-print-directory sanity

# ansible-test sanity on a copy of the tree, with nothing fetched from outside the package
# registries (see tools/sanity.sh). The first run builds ansible-test's per-test venvs (about
# 6 minutes); later runs reuse them.
sanity:
	tools/sanity.sh $(SANITY_ARGS)

# galaxy-importer (its own venv, pinned in requirements-galaxy.txt) on the built tarball, as
# Galaxy runs it on an upload, offline; any warning fails (see tools/galaxy-check.sh).
GALAXY_VENV := .build/galaxy-importer
$(GALAXY_VENV)/.installed: requirements-galaxy.txt
	rm -rf $(GALAXY_VENV)
	$(VENV)/python -m venv $(GALAXY_VENV)
	$(GALAXY_VENV)/bin/pip install -q -r requirements-galaxy.txt
	touch $@

galaxy-check: $(GALAXY_VENV)/.installed build
	tools/galaxy-check.sh openblade-kvm-*.tar.gz

# Build the collection tarball and install it into a scratch path, as a user would.
build:
	rm -rf .build/install openblade-kvm-*.tar.gz
	$(VENV)/ansible-galaxy collection build --force .
	ANSIBLE_COLLECTIONS_PATH=.build/install $(VENV)/ansible-galaxy collection install --force -p .build/install openblade-kvm-*.tar.gz
	ANSIBLE_COLLECTIONS_PATH=.build/install $(VENV)/ansible-doc -l openblade.kvm

unit:
	$(VENV)/python -m pytest tests/unit -q

# Under Ansible's plain linear strategy: the collection must need no Mitogen.
integration-host:
	ANSIBLE_STRATEGY=linear $(VENV)/python -m pytest tests/integration/host -q

lab-up:
	$(LAB) up --blades $(LAB_BLADES)

# First, on the new blades, alone: the inventory checks (a bad inventory must change
# nothing on a blade no play has touched yet; then a one-guest cluster on blade1, torn
# down again). Then the storage suite, golden images from a URL, and the killed and
# concurrent runs on the last blade, beside the network suite on the first two, followed
# there by the migration suite (blade1 -> blade2 over trunk0, which the network suite leaves
# clean; the data disks of both are unused until then). Last, the operations on all blades.
lab-tests:
	$(VENV)/python -m pytest tests/integration/lab/test_inventory_checks.py tests/integration/lab/test_lab.py -q
	tools/lanes.sh "$(VENV)/python -m pytest tests/integration/lab/test_network.py tests/integration/lab/test_migrate.py -q" \
	               "$(VENV)/python -m pytest tests/integration/lab/test_storage.py tests/integration/lab/test_golden_url.py tests/integration/lab/test_killed_runs.py -q"
	$(MAKE) --no-print-directory lab-tests-operations

# The operations, on all 3 blades: evacuate a blade and planned moves; backups (blade1 ->
# blade2); a lost blade's recovery (it stops blade1 and boots it again); off-site copies
# (blade2 -> blade3). Each needs blank data disks and removes the VGs it made, so they run one
# after the other (about 20 minutes on an idle machine).
lab-tests-operations:
	$(VENV)/python -m pytest tests/integration/lab/test_evacuate.py tests/integration/lab/test_backup.py \
	    tests/integration/lab/test_recover.py tests/integration/lab/test_offsite.py -q

molecule:
	OPENBLADE_LAB_KEEP=1 $(VENV)/molecule test --all

lab-down:
	$(LAB) down

# Benchmarks print medians and ratios; they never fail on a timing.
bench-guests: setup
	$(VENV)/python benchmarks/guests/run.py

# Thin clone vs full qemu-img copy on a lab blade (needs `lab/lab up`).
bench-storage: setup
	$(VENV)/python benchmarks/storage/provision.py

# site.yml first converge and no-change re-run against a ping round, Mitogen vs linear, 3 blades.
bench-cluster: setup
	$(LAB) up --blades 3
	$(VENV)/python benchmarks/cluster/run.py

# A live move: guest_migrate against plain virsh migrate --copy-storage-all (time, downtime,
# destination allocation), blade1 -> blade2.
bench-migrate: setup
	$(LAB) up --blades 2
	$(VENV)/python benchmarks/migrate/run.py

# A 4 GiB disk with 1 % rewritten: guest_backup's incremental against restic backup --stdin and
# a full qemu-img convert copy (bytes read, bytes sent, wall time), blade1 -> blade2.
bench-backup: setup
	$(LAB) up --blades 2
	$(VENV)/python benchmarks/backup/run.py

clean: lab-down
	rm -rf .build .venv openblade-kvm-*.tar.gz
