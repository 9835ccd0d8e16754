"""Model the primary-care layer (``primary_care_modelled.csv``) of each city. Every row is MODELLED, not real.

No list of community health centres (社区卫生服务中心) or township hospitals (乡镇卫生院) with locations is
available offline, so this script places them by the national siting norm and flags every row
``modelled = true``, ``location_quality = modelled``. A planner's real list replaces this file in the scenario.

Rule (per district / county, on the modelled population at H3 resolution 8 — see ``simulator.units.population``):

* urban residents (census urban share, or the model's default share) are served by community health centres,
  one per sub-district 街道, i.e. per 30,000–100,000 residents (城市社区卫生服务机构设置原则): we use
  ``n = max(1, round(urban residents / 50,000))``, the lower-middle of that range;
* in counties, rural residents are served by township hospitals, one per township 乡镇; township counts are
  not available offline, so ``n = max(1, round(rural residents / 20,000))`` (an assumption stated here);
* each facility sits at a population-weighted centre: weighted k-means (Lloyd's algorithm, deterministic
  initialisation by the most-populated unit, then the unit farthest in population-weighted squared distance)
  over the units of its population part (urban: units ranked by modelled density holding the urban share;
  rural: the remaining units), snapped to the nearest unit point.

Usage: ``python geodata/build_primary_care.py`` (after ``build_facilities.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulator.config.scenario import load_scenario
from simulator.load.city import load_city
from simulator.units.pipeline import planning_units

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEOPLE_PER_CHC = 50_000
PEOPLE_PER_TOWNSHIP_HOSPITAL = 20_000


def weighted_kmeans(xy: np.ndarray, w: np.ndarray, k: int, iterations: int = 50) -> np.ndarray:
    """Deterministic weighted k-means; returns (k, 2) centres."""
    k = min(k, int((w > 0).sum()) or 1)
    centres = [xy[np.argmax(w)]]
    for _ in range(1, k):
        d2 = np.min(((xy[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(xy[np.argmax(w * d2)])
    c = np.array(centres, dtype=float)
    for _ in range(iterations):
        label = np.argmin(((xy[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        sums = np.zeros_like(c)
        np.add.at(sums, label, xy * w[:, None])
        mass = np.bincount(label, weights=w, minlength=len(c))
        new = np.where(mass[:, None] > 0, sums / np.maximum(mass, 1e-12)[:, None], c)
        if np.allclose(new, c):
            break
        c = new
    return c


def model_city(city_key: str, prefix: str) -> pd.DataFrame:
    scenario = load_scenario(
        ROOT / "scenarios" / f"{city_key}.toml",
        # the city's own facilities only: the declared ties name provincial hospitals of another file
        {"districts": "all", "units.resolution": 8, "inputs.facilities": ["facilities.csv"],
         "inputs.affiliations": None},
    )
    city = load_city(scenario)
    units = planning_units(scenario, city).gdf
    pm = scenario.population_model
    rows = []
    for _, d in city.districts.sort_values("adcode").iterrows():
        u = units[units["district"] == d["adcode"]]
        share = (
            d["urban_share"]
            if np.isfinite(d["urban_share"])
            else (pm.urban_share_district if d["type"] == "district" else pm.urban_share_county)
        )
        pop = u["population"].to_numpy(dtype=float)
        dens = pop / u["area_km2"].to_numpy()
        order = np.argsort(-dens, kind="stable")
        urban_mask = np.zeros(len(u), dtype=bool)
        urban_mask[order[: max(1, int(np.searchsorted(np.cumsum(pop[order]), share * pop.sum())) + 1)]] = True
        lat0 = np.radians(u["lat"].mean())
        xy = np.column_stack([u["lon"].to_numpy() * 111.32 * np.cos(lat0), u["lat"].to_numpy() * 110.57])
        parts = [("community_health_centre", "社区卫生服务中心", urban_mask, share * pop.sum(), PEOPLE_PER_CHC)]
        if d["type"] == "county":
            parts.append(
                ("township_hospital", "乡镇卫生院", ~urban_mask, (1 - share) * pop.sum(), PEOPLE_PER_TOWNSHIP_HOSPITAL)
            )
        for kind, label, mask, residents, norm in parts:
            n = max(1, int(round(residents / norm)))
            centres = weighted_kmeans(xy[mask], pop[mask], n)
            idx = np.flatnonzero(mask)
            for c in centres:
                j = idx[np.argmin(((xy[idx] - c) ** 2).sum(1))]
                rows.append(
                    {
                        "district": d["adcode"],
                        "kind": kind,
                        "label": label,
                        "lon": round(float(u["lon"].iat[j]), 6),
                        "lat": round(float(u["lat"].iat[j]), 6),
                        "district_name": d["name"],
                        "norm": norm,
                    }
                )
    df = pd.DataFrame(rows).drop_duplicates(["lon", "lat", "kind"])
    df["n"] = df.groupby(["district", "kind"]).cumcount() + 1
    out = pd.DataFrame(
        {
            "facility_id": [f"{prefix}-M{i + 1:03d}" for i in range(len(df))],
            "name": [f"模拟{r.label}（{r.district_name}{r.n}）" for r in df.itertuples()],
            "district": df["district"],
            "level": "primary",
            "grade": "",
            "grade_status": "modelled",
            "kind": df["kind"],
            "ownership": np.where(df["kind"] == "township_hospital", "county", "district"),
            "beds": "",
            "beds_status": "gap",
            "outpatient_daily": "",
            "outpatient_status": "gap",
            "lon": df["lon"],
            "lat": df["lat"],
            "location_quality": "modelled",
            "location_source": "population-weighted centre of the modelled population (geodata/build_primary_care.py)",
            "in_city": "true",
            "modelled": "true",
            "source": [
                f"MODELLED: 1 per {r.norm:,} residents (geodata/build_primary_care.py); not a real facility"
                for r in df.itertuples()
            ],
        }
    )
    return out


def main() -> None:
    for key, prefix in (("fuxin", "FX"), ("panjin", "PJ")):
        df = model_city(key, prefix)
        dst = HERE / key / "primary_care_modelled.csv"
        tmp = dst.with_suffix(".tmp")
        df.to_csv(tmp, index=False)
        tmp.replace(dst)
        dst.with_suffix(".prj").write_text("EPSG:4326\n", encoding="utf-8")  # declares the CSV's CRS
        print(f"{dst.relative_to(ROOT)}: {len(df)} modelled facilities " + str(df.groupby("kind").size().to_dict()))


if __name__ == "__main__":
    main()
