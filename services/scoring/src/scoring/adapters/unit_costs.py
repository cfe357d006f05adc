"""The outcomes report's unit costs: the packaged defaults (scoring/outcomes/unit_costs.toml,
each figure with its source) or the file `SCORING_OUTCOMES_UNIT_COSTS` names."""

from functools import cache
from importlib import resources
from pathlib import Path

from scoring.domain.outcome_report import UnitCosts, UnitCostsError, read_unit_costs


@cache
def unit_costs(path: str | None = None) -> UnitCosts:
    """The unit costs (read once per path); UnitCostsError naming the file if refused."""
    if path:
        name, text = path, Path(path).read_text("utf-8")
    else:
        name = "scoring/outcomes/unit_costs.toml"
        text = (resources.files("scoring") / "outcomes" / "unit_costs.toml").read_text("utf-8")
    try:
        return read_unit_costs(text)
    except UnitCostsError as error:
        raise UnitCostsError(f"{name}: {error}") from None
