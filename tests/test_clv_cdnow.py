"""The published CDNOW estimates (Fader, Hardie & Lee 2005; Fader & Hardie 2013): 2,357
customers, 39-week calibration. The data ships in the `lifetimes` wheel, installed without its
dependencies by `make install` only to read these files (the package itself is never imported)."""

import os
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import pytest

from modeling.clv import fit_bgnbd, fit_gamma_gamma


def cdnow(name: str) -> pd.DataFrame:
    spec = find_spec("lifetimes")
    if spec is None or spec.origin is None:
        reason = "the lifetimes wheel (CDNOW data) is not installed: run `make install`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return pd.read_csv(Path(spec.origin).parent / "datasets" / name)


def test_bgnbd_reproduces_the_published_cdnow_estimates():
    data = cdnow("cdnow_customers_summary.csv")
    assert len(data) == 2357
    fitted = fit_bgnbd(data["frequency"], data["recency"], data["T"])
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert getattr(fitted, name) == pytest.approx(value, abs=0.0015), name


def test_gamma_gamma_reproduces_the_published_cdnow_estimates():
    data = cdnow("cdnow_customers_summary_with_transactions.csv")
    repeat_buyers = data[data["x"] > 0]
    assert len(repeat_buyers) == 946
    fitted = fit_gamma_gamma(repeat_buyers["x"], repeat_buyers["zbar"])
    assert fitted.p == pytest.approx(6.25, abs=0.01)
    assert fitted.q == pytest.approx(3.74, abs=0.01)
    assert fitted.v == pytest.approx(15.44, abs=0.01)
