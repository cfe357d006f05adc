"""docs/settings.md, the table of every setting per service, is generated from the settings
classes (`ensemble-docs`); `ensemble-docs --check` in `make lint` fails when it drifts."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from ensemble_devkit import service_map, settings_docs
from ensemble_runtime.config import SECRET_FIELD, ServiceSettings


class Example(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXAMPLE_", extra="ignore")

    service_name: str = "example"
    """The example's name."""
    database_url: str = "sqlite://"
    """Where it keeps things."""
    http_port: int = 8999
    """Its port | with a pipe."""
    partner_tokens: str = Field(
        default='{"p": "default-secret-value"}', json_schema_extra=SECRET_FIELD
    )
    """Partner tokens."""
    undocumented_knob: int = 3


def test_the_committed_table_is_the_generated_one() -> None:
    definitions = service_map.load_definitions()
    assert settings_docs.SETTINGS_MD.read_text() == settings_docs.settings_markdown(definitions), (
        "docs/settings.md is out of date: run `uv run --no-sync ensemble-docs`"
    )
    assert settings_docs.SETTINGS_MD not in service_map.drifted(definitions)


def test_every_setting_of_every_service_is_documented() -> None:
    assert settings_docs.undocumented(service_map.load_definitions()) == []


def test_a_new_field_makes_the_table_drift() -> None:
    class Grown(Example):
        new_setting: float = 1.5
        """A setting someone just added."""

    before, after = settings_docs.settings_table(Example), settings_docs.settings_table(Grown)
    assert "`EXAMPLE_NEW_SETTING` | new_setting | float | `1.5` | A setting" in after
    assert "NEW_SETTING" not in before


def test_secrets_show_their_file_variable_and_never_a_default() -> None:
    table = settings_docs.settings_table(Example)
    row = next(line for line in table.splitlines() if "| partner_tokens |" in line)
    assert row.startswith("| `EXAMPLE_PARTNER_TOKENS` or `EXAMPLE_PARTNER_TOKENS_FILE` |")
    assert "(secret)" in row and "**secret.**" in row
    assert "default-secret-value" not in table
    staff = next(line for line in table.splitlines() if "| staff_tokens |" in line)
    assert "(secret)" in staff
    assert "Its port \\| with a pipe." in table  # one cell per column
    assert "| undocumented_knob | int | `3` | (undocumented" in table
