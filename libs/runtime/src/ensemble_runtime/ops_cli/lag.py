"""`ensemble lag`: how far behind each consumer group of the service is, per partition.

The same reading as the `ensemble_consumer_lag` metric (ops_metrics.py): the partition's end
offset minus the group's committed offset; a partition the group never committed counts from
its beginning (where `auto_offset_reset=earliest` starts it). Offsets only: no message is read.
"""

from typing import Annotated, Any

import typer
from rich.table import Table

from ensemble_runtime.ops_cli.common import JsonOption, ServiceOption, emit, target
from ensemble_runtime.ops_cli.errors import USAGE, OpsError
from ensemble_runtime.ops_metrics import OffsetReader, consumer_groups, consumer_lag


def lag(
    ctx: typer.Context,
    service: ServiceOption = None,
    group: Annotated[
        str | None, typer.Option("--group", "-g", help="Only this consumer group.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Consumer lag per group and partition (end offset minus committed offset)."""
    chosen = target(ctx, service)
    groups = consumer_groups(chosen.definition.subscriptions)
    if group is not None:
        if group not in groups:
            known = ", ".join(sorted(groups)) or "none"
            raise OpsError(f"{group} is not a consumer group of {chosen.name} ({known})", USAGE)
        groups = {group: groups[group]}

    async def read() -> dict[tuple[str, str, int], int]:
        offsets = OffsetReader(chosen.bootstrap, chosen.security())
        try:
            return await consumer_lag(offsets, groups)
        finally:
            await offsets.close()

    sampled = chosen.on_kafka(read())
    partitions: list[dict[str, Any]] = [
        {"group": g, "topic": topic, "partition": partition, "lag": value}
        for (g, topic, partition), value in sorted(sampled.items())
    ]
    totals: dict[str, int] = dict.fromkeys(sorted(groups), 0)
    for row in partitions:
        totals[row["group"]] += row["lag"]
    shown: dict[str, Any] = {"service": chosen.name, "groups": totals, "partitions": partitions}

    def table() -> Table:
        grid = Table(title=f"{chosen.name}: consumer lag ({sum(totals.values())} in all)")
        for column in ("group", "topic", "partition", "lag"):
            grid.add_column(column)
        for row in partitions:
            grid.add_row(row["group"], row["topic"], str(row["partition"]), str(row["lag"]))
        return grid

    emit(shown, table, as_json)
