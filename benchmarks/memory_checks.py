"""``--memory-check`` and ``--tiles``: measured peaks of real runs, each in a fresh process
(:func:`subprocesses.measure_peak_memory`).

* ``--memory-check``: :func:`nst_helpers.engine.memory.estimate_peak_memory` against the measured
  peak of float32 ``stylize`` runs (60 steps, so that L-BFGS's history is full), whole
  and tiled.
* ``--tiles``: time and peak memory per step in tiles against the whole image, interleaved
  over ``--reps`` rounds.
"""

from __future__ import annotations

import statistics


def memory_check(args) -> list[dict]:
    from subprocesses import measure_peak_memory

    from nst_helpers.engine.memory import estimate_peak_memory

    rows = []
    runs = [(size, None) for size in args.memory_sizes]
    runs += [tuple(int(v) for v in pair.split(":")) for pair in args.memory_tiles]
    for size, tile in runs:
        measured = measure_peak_memory(size, steps=args.memory_steps, content=args.content,
                                       style=args.style, tile=tile)
        estimate = estimate_peak_memory(measured["shape"], tile=tile)
        rows.append({"long_side": size, "tile": tile, "shape": measured["shape"],
                     "measured_mib": measured["peak_bytes"] / 2**20,
                     "estimated_mib": estimate / 2**20,
                     # a failed measurement reads 0: report it, do not lose the run
                     "error": (estimate / measured["peak_bytes"] - 1
                               if measured["peak_bytes"] else None)})
    return rows


def tiles_check(args) -> dict:
    """Fresh processes, interleaved over ``args.reps`` rounds: the whole image, then each
    tile side; peak memory and seconds per step. Runs this short do not fill L-BFGS's
    history (``--memory-check`` does, and checks the estimate)."""
    from subprocesses import measure_peak_memory

    variants = [None, *args.tile_sides]
    runs: dict[str, list[dict]] = {str(t): [] for t in variants}
    for round_ in range(args.reps):
        for tile in variants:
            m = measure_peak_memory(args.tiles_size, steps=args.tiles_steps, content=args.content,
                                    style=args.style, tile=tile, threads=args.threads,
                                    timeout=args.timeout)
            runs[str(tile)].append(m)
            print(f"  round {round_ + 1}: tile {tile}: {m['seconds_per_step']:.2f} s/step, "
                  f"peak {m['peak_bytes'] / 2**20:.0f} MiB", flush=True)
    shape = runs["None"][0]["shape"]
    rows = {}
    for tile in variants:
        ms = runs[str(tile)]
        rows[str(tile)] = {
            "tile": tile,
            "seconds_per_step": statistics.median(m["seconds_per_step"] for m in ms),
            "peak_mib": max(m["peak_bytes"] for m in ms) / 2**20,
        }
    whole = rows["None"]
    for row in rows.values():
        row["time_ratio"] = row["seconds_per_step"] / whole["seconds_per_step"]
        row["memory_ratio"] = row["peak_mib"] / whole["peak_mib"]
    return {"shape": shape, "steps": args.tiles_steps, "rounds": args.reps,
            "runs": list(rows.values())}


def print_memory_check(rows: list[dict]) -> None:
    for row in rows:
        error = "failed" if row["error"] is None else f"{100 * row['error']:+.1f} %"
        tiles = f", {row['tile']} px tiles" if row["tile"] else ""
        print(f"memory {row['shape']}{tiles}: measured {row['measured_mib']:.0f} MiB, "
              f"estimated {row['estimated_mib']:.0f} MiB ({error})")


def print_tiles(report: dict) -> None:
    print(f"tiles, {report['shape']} px, {report['steps']} steps:")
    for row in report["runs"]:
        print(f"  tile {str(row['tile']):>5}: {row['seconds_per_step']:.2f} s/step "
              f"({row['time_ratio']:.2f}x), peak {row['peak_mib']:.0f} MiB "
              f"({row['memory_ratio']:.2f}x)")
