"""What the benchmark prints: progress on stderr, a block of figures per phase on stdout."""

import sys


def progress_bar(description: str, total: int | None, unit: str):
    from tqdm import tqdm

    return tqdm(
        total=total, desc=description, unit=unit, unit_scale=True, file=sys.stderr, mininterval=0.5, leave=False
    )


def _megabytes(kilobytes: int) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def _memory(result: dict) -> str:
    return f"peak RSS {_megabytes(result['peak_rss_kb'])}, RSS after {_megabytes(result['rss_after_kb'])}"


def report_build(result: dict, loans: int) -> None:
    rows = ", ".join(f"{count:,} {name}" for name, count in result["rows"].items())
    print(f"build   {result['seconds']:8.1f} s  {loans / result['seconds']:>10,.0f} loans/s  {_memory(result)}")
    print(f"        {rows}")
    print("        the night before: " + ", ".join(f"{name} {count:,}" for name, count in result["spread"].items()))


def extrapolated(result: dict, *, loans: int, sample: int) -> float:
    """The naive path's time for the whole portfolio: its per-loan work scaled up, its
    whole-portfolio passes (the promise step, the snapshot) once."""
    return result["seconds"] * loans / sample + result.get("seconds_once", 0.0)


def report_phase(phase: str, result: dict, *, loans: int, sample: int) -> None:
    seconds = result["seconds"]
    if phase == "naive":
        whole = extrapolated(result, loans=loans, sample=sample)
        print(
            f"naive   {whole:8.1f} s  {loans / whole:>10,.0f} loans/s  {_memory(result)}  "
            f"(extrapolated from {sample:,} loans in {seconds:.1f} s, plus the promise step and the snapshot once)"
        )
    else:
        print(
            f"{phase:<7} {seconds:8.1f} s  {loans / seconds:>10,.0f} loans/s  {_memory(result)}  "
            f"rows written {result['rows']:,}, WAL {_megabytes(result['wal'] / 1024)}"
        )
    for step, counts in result["counts"].items():
        shown = ", ".join(f"{name} {count:,}" for name, count in counts.items())
        timing = f" [{result['steps'][step]['seconds']:.1f} s]" if step in result.get("steps", {}) else ""
        print(f"        {step}{timing}: {shown or '-'}")


def report_steps(cycle: dict, floor: dict) -> None:
    """Per step, side by side: seconds, rows written and WAL of the cycle and of the floor, and
    the cycle's time over the floor's."""
    print(
        f"{'step':<12} {'cycle s':>8} {'floor s':>8} {'ratio':>6} {'cycle rows':>11} {'floor rows':>11} "
        f"{'cycle WAL':>10} {'floor WAL':>10}"
    )
    for step, mine in cycle["steps"].items():
        theirs = floor["steps"].get(step, {"seconds": 0.0, "rows": 0, "wal": 0})
        ratio = mine["seconds"] / theirs["seconds"] if theirs["seconds"] > 0 else float("inf")
        print(
            f"{step:<12} {mine['seconds']:8.2f} {theirs['seconds']:8.2f} {ratio:6.2f} {mine['rows']:>11,} "
            f"{theirs['rows']:>11,} {_megabytes(mine['wal'] / 1024):>10} {_megabytes(theirs['wal'] / 1024):>10}"
        )
