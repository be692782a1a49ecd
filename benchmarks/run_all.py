"""Run every benchmark script and write one report, ``docs/benchmarks.md``.

Usage (from the repository root)::

    python benchmarks/run_all.py                  # every bench_*.py at its full size
    python benchmarks/run_all.py --quick          # every script's --quick mode
    python benchmarks/run_all.py --from-results   # only assemble the page from the JSON
    python benchmarks/run_all.py --only speed quality --quick

Every ``benchmarks/bench_*.py`` is found at run time (a new script is picked up without
changes here) and run as its own process, one after another, with the interpreter running
this script. Its command line is read from its ``--help``: ``--quick`` is passed when the
script has it and ``--quick`` was asked (a script without a quick mode is skipped then,
and the page says so). Nothing else is passed, so each script runs at its own default
size, the **documented size** of its docstring and of its page under ``docs/``; the scripts
pin BLAS and torch to one thread themselves. Each script prints its tables and writes its
JSON to ``benchmarks/results/`` (``*_quick.json`` in quick mode).

The page is then assembled from the JSON files, never from the printed output: every
markdown table a result file holds (keys ``tables_markdown``, ``tables``, ``table``,
``*_table``), grouped by script, with the environment each file recorded (commit,
versions, threads, load average); a section comparing the seeds' reported numbers with
ours where the JSON has the like-for-like figures; and the peer comparisons (pyDVL,
cleanlab), which the scripts measure in the same run as our methods. ``--from-results``
skips the runs and assembles the page from the JSON already there (full-size results;
a script that has only quick results is shown with them, marked as such).

Sizes and times (2-core machine, 1 BLAS thread; see each script's docstring):

=====================  ==========================================  ===============
script                 full size                                   quick
=====================  ==========================================  ===============
bench_speed.py         Adult 26k rows + make_classification 1k-20k  ~20 s
bench_quality.py       30 seeds 2-D; Adult/Bank 10 data seeds        ~20 s
bench_active.py        Adult 3 seeds, digits MLP 3 seeds, speed      ~1 min
bench_kfsvd.py         digits MLP, 300 labeled x 1,000 pool, 3 seeds ~1 min
bench_shapley.py       pyDVL comparison, noisy labels, App. E        ~3 min
bench_noisy_labels.py  Adult/Bank 5,000 rows, 5 seeds (LR part)      ~10 s
bench_objectives.py    Adult/Bank 18,292 rows, 5 seeds (~6 min)      ~20 s
bench_influence_speed  LR (+ pyDVL, ~40 min), MLP, CNN (~7 min)      ~1 min
=====================  ==========================================  ===============

The full run takes about 2 h 10 min (bench_shapley about 45 min, bench_influence_speed
about 47 min, most of it pyDVL's LiSSA); ``--quick`` about 6 minutes. The net part of
``bench_noisy_labels.py`` (``--part net``, ~6 min) is not run by this script. Quick-mode pages go to ``benchmarks/results/benchmarks_quick.md`` unless
``--out`` is given, so that a smoke run never replaces the full-size page.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
RESULTS_DIR = HERE / "results"
DEFAULT_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
QUICK_PAGE = RESULTS_DIR / "benchmarks_quick.md"
PACKAGES = [
    "skinfluence",
    "numpy",
    "scipy",
    "scikit-learn",
    "joblib",
    "pandas",
    "torch",
    "skorch",
    "pyDVL",
    "cleanlab",
]
PEERS = ("pydvl", "cleanlab")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _child_env() -> dict:
    """The environment of the scripts: the package of this checkout comes first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


# -- discovery ---------------------------------------------------------------------------
def discover(bench_dir: Path = HERE) -> list[Path]:
    """Every ``bench_*.py`` script, sorted by name."""
    return sorted(bench_dir.glob("bench_*.py"))


def short_name(script: Path) -> str:
    """``bench_speed.py`` -> ``speed``."""
    return script.stem.removeprefix("bench_")


def script_flags(script: Path) -> set[str]:
    """The long options a script's ``--help`` lists."""
    proc = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=_child_env(),
        timeout=300,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} --help failed:\n{proc.stderr[-2000:]}")
    return set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", proc.stdout))


def script_summary(script: Path) -> str:
    """First line of the script's module docstring."""
    import ast

    doc = ast.get_docstring(ast.parse(script.read_text()))
    return doc.strip().splitlines()[0] if doc else ""


# -- environment -------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not on this platform
        return None


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine_environment() -> dict:
    """CPU, cores, thread settings, load average and package versions of this machine."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        usable = os.cpu_count()
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "thread_variables": {v: os.environ.get(v) for v in THREAD_VARS},
        "load_average": _load(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(dirty),
        "versions": versions,
    }


# -- running -----------------------------------------------------------------------------
def run_scripts(scripts: list[Path], quick: bool, timeout: float | None) -> list[dict]:
    """Run each script in turn; return one record per script (command, time, outcome)."""
    records = []
    for script in scripts:
        record = {"script": script.name, "quick": quick}
        try:
            flags = script_flags(script)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            record.update(status="failed", error=str(exc)[-2000:])
            records.append(record)
            print(f"[run_all] {script.name}: --help failed, skipped", flush=True)
            continue
        if quick and "--quick" not in flags:
            record.update(status="skipped", error="the script has no --quick mode")
            records.append(record)
            print(f"[run_all] {script.name}: no --quick mode, skipped", flush=True)
            continue
        cmd = [sys.executable, str(script.relative_to(REPO_ROOT))]
        if quick:
            cmd.append("--quick")
        record["command"] = " ".join(["python", *cmd[1:]])
        record["load_before"] = _load()
        print(f"[run_all] {record['command']}", flush=True)
        start_wall = time.time()
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                cwd=REPO_ROOT,
                env=_child_env(),
                text=True,
                capture_output=True,
                timeout=timeout,
            )
            status = "ok" if proc.returncode == 0 else "failed"
            tail = (proc.stdout[-1500:] + "\n" + proc.stderr[-3000:]).strip()
            record["returncode"] = proc.returncode
        except subprocess.TimeoutExpired:
            status, tail = "timed out", f"stopped after {timeout:.0f} s"
        record["seconds"] = round(time.perf_counter() - start, 1)
        record["load_after"] = _load()
        record["status"] = status
        record["json_written"] = sorted(
            p.name for p in RESULTS_DIR.glob("*.json") if p.stat().st_mtime >= start_wall - 1
        )
        if status != "ok":
            record["error"] = tail
        print(f"[run_all]   {status} in {record['seconds']} s", flush=True)
        records.append(record)
    return records


# -- reading results ---------------------------------------------------------------------
def _commands(obj) -> list[str]:
    """Every ``command`` string recorded anywhere in a result file."""
    found = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "command" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_commands(value))
    elif isinstance(obj, list):
        for value in obj:
            found.extend(_commands(value))
    return found


def owner_script(path: Path, payload: dict, names: list[str]) -> str | None:
    """Which script wrote a result file: its recorded command, else its file name."""
    for command in _commands(payload):
        match = re.search(r"bench_(\w+)\.py", command)
        if match and match.group(1) in names:
            return match.group(1)
    stem = path.stem
    for name in sorted(names, key=len, reverse=True):
        if stem.startswith(f"bench_{name}") or stem.startswith(name):
            return name
    return None


def is_table(text: str) -> bool:
    """A markdown table (with an optional bold title)."""
    return isinstance(text, str) and bool(re.search(r"^\|.*\|\s*\n\|[-|: ]+\|\s*$", text, re.M))


def tables_in(obj) -> list[str]:
    """The markdown tables a result file holds, in file order, without repeats."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif is_table(node) and node.strip() not in out:
            out.append(node.strip())

    walk(obj)
    return out


def _find(obj, key: str):
    """The first value stored under ``key`` anywhere in ``obj`` (depth first)."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for value in obj.values():
            hit = _find(value, key)
            if hit is not None:
                return hit
    elif isinstance(obj, list):
        for value in obj:
            hit = _find(value, key)
            if hit is not None:
                return hit
    return None


def _loads(obj) -> list[str]:
    """Load averages a result file recorded (any key with "load" in its name)."""
    found = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if "load" in key and isinstance(value, (str, int, float, list)):
                values = value if isinstance(value, list) else [value]
                shown = "/".join(
                    f"{float(v):.2f}" if re.fullmatch(r"[\d.]+", str(v)) else str(v) for v in values
                )
                found.append(f"{key} {shown}")
            else:
                found.extend(_loads(value))
    return found


def load_results(names: list[str], prefer_quick: bool) -> dict[str, list[tuple[Path, dict]]]:
    """Result files per script name: full-size ones, or quick ones where asked or only those."""
    by_script: dict[str, list[tuple[Path, dict]]] = {name: [] for name in names}
    for path in sorted(RESULTS_DIR.glob("*.json")):
        if path.stem.startswith("run_all"):
            continue  # this script's own log
        try:
            payload = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(payload, dict):
            continue
        name = owner_script(path, payload, names)
        if name is not None:
            by_script[name].append((path, payload))
    for name, files in by_script.items():
        full = [f for f in files if not f[1].get("quick", "_quick" in f[0].stem)]
        quick = [f for f in files if f[1].get("quick", "_quick" in f[0].stem)]
        by_script[name] = (quick or full) if prefer_quick else (full or quick)
    return by_script


# -- the seeds' numbers next to ours -----------------------------------------------------
def _fmt(x, digits=2):
    return f"{x:.{digits}f}"


def paper_rows(results: dict[str, list[tuple[Path, dict]]]) -> list[list[str]]:
    """Seed 000's reported numbers next to the like-for-like ones measured here."""
    rows = []

    def payload_of(name, predicate=lambda p: True):
        for path, payload in results.get(name, []):
            if predicate(payload):
                return path, payload
        return None, None

    # Table 1: 2-D Gaussians, 30 seeds, FI vs IV at 5/10/20 deleted points
    table1 = {5: (23, 96.22, 95.77), 10: (28, 96.20, 94.84), 20: (30, 96.23, 93.36)}
    path, payload = payload_of("quality", lambda p: "part_a" in p)
    if payload is not None:
        n_seeds = payload.get("settings", {}).get("part_a", {}).get("seeds", "?")
        for entry in payload["part_a"].get("summary", []):
            b = entry.get("budget")
            if b not in table1:
                continue
            better, acc_fi, acc_iv = table1[b]
            ours = entry["fi_vs_if"]["fi (appendix)"]
            rows.append(
                [
                    f"Table 1, b = {b}: seeds where FI beats IV",
                    f"{better} / 30",
                    f"{ours['better']} / {n_seeds} (ties {ours['tie']})",
                    path.name,
                ]
            )
            rows.append(
                [
                    f"Table 1, b = {b}: mean test accuracy FI / IV %",
                    f"{acc_fi:.2f} / {acc_iv:.2f}",
                    f"{100 * entry['mean']['fi (appendix)']:.2f} / {100 * entry['mean']['if']:.2f}",
                    path.name,
                ]
            )
    # Table 7: active-learning time per run, FI / IV / BALD (MNIST; digits here)
    for path, payload in results.get("active", []):
        summary = payload.get("part_b", {}).get("summary", {})
        net = str(payload.get("part_b", {}).get("net", "?"))
        try:
            ours = " / ".join(
                _fmt(summary[m]["seconds_per_run_mean"], 1) for m in ("fi", "if", "bald")
            )
        except KeyError:
            continue
        rows.append(
            [
                "Table 7: seconds per active-learning run FI / IV / BALD",
                "19 / 13 / 9 (MNIST, CNN)",
                f"{ours} (digits stand-in, skorch {net.upper()})",
                path.name,
            ]
        )
    # Table 4: Adult, 12 rounds of 500 from a 5,000-row pool
    path, payload = payload_of("active", lambda p: "part_a" in p)
    if payload is not None and "rounds_run" in payload["part_a"]:
        asked = payload.get("settings", {}).get("part_a", {}).get("rounds_asked", 12)
        rows.append(
            [
                "Table 4: Adult rounds of 500 from a 5,000-row pool",
                "12",
                f"{payload['part_a']['rounds_run']} run of {asked} asked (pool exhausted)",
                path.name,
            ]
        )
    return rows


# -- the page ----------------------------------------------------------------------------
def _env_line(env: dict) -> str:
    if not env:
        return "not recorded"
    keys = ["python", "numpy", "scipy", "scikit-learn", "pandas", "torch", "torch_threads"]
    parts = [f"{k} {env[k]}" for k in keys if k in env]
    if env.get("cpu_count"):
        parts.append(f"{env['cpu_count']} CPUs")
    commit = env.get("git_commit")
    if commit:
        parts.append(f"commit `{commit[:7]}`")
    return ", ".join(parts)


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def build_page(
    scripts: list[Path],
    results: dict[str, list[tuple[Path, dict]]],
    machine: dict,
    records: list[dict] | None,
    mode: str,
) -> str:
    """The markdown of ``docs/benchmarks.md``."""
    today = _dt.date.today().isoformat()
    lines = [
        "# Benchmark report",
        "",
        "Generated by `python benchmarks/run_all.py"
        + {"full": "", "quick": " --quick", "from-results": " --from-results"}[mode]
        + f"` on {today}. Do not edit by hand: rerun the script. Every table below is read "
        "from the JSON files the benchmark scripts wrote to `benchmarks/results/` (each "
        "also prints it); the discussion of what the numbers mean, and where they contradict "
        "the papers, is on the pages of each benchmark ([influence and trimming]"
        "(benchmarks_issue2.md), [active learning](benchmarks_issue4.md), "
        "[KFSVD](kfsvd.md), [Shapley](shapley.md)).",
        "",
    ]
    if mode == "quick":
        lines += [
            "**Quick mode**: every script at its `--quick` size. These numbers check that the "
            "scripts run; they are not the documented results.",
            "",
        ]
    lines += [
        "## How to reproduce",
        "",
        "```bash",
        "python benchmarks/run_all.py                 # every bench_*.py at full size, then this page",
        "python benchmarks/run_all.py --quick         # quick sizes (a few minutes), page under benchmarks/results/",
        "python benchmarks/run_all.py --from-results  # this page from the JSON already in benchmarks/results/",
        "python benchmarks/bench_NAME.py [--quick]    # one script; see its --help and docstring",
        "```",
        "",
        "Data sets are read from `$SKINFLUENCE_DATA` (default `../shared/data`); digits and "
        "the synthetic sets come with scikit-learn. pyDVL is a benchmark-only dependency "
        "(see [Shapley](shapley.md) for how to install it beside numpy 2).",
        "",
        "## Environment",
        "",
        "Machine that assembled this page" + (" and ran the scripts" if records else "") + ":",
        "",
        "| what | value |",
        "|---|---|",
        f"| CPU | {machine['cpu']} |",
        f"| cores | {machine['cpu_count']} ({machine['usable_cores']} usable) |",
        f"| platform | {machine['platform']} |",
        "| thread variables | "
        + (", ".join(f"{k}={v}" for k, v in machine["thread_variables"].items() if v) or "none set")
        + "; the scripts pin BLAS/OpenMP and torch to 1 thread unless told otherwise |",
        "| load average (1/5/15 min) when assembled | "
        + ("/".join(map(str, machine["load_average"])) if machine["load_average"] else "n/a")
        + " |",
        f"| commit | `{machine['git_commit']}`"
        + (" (with uncommitted changes)" if machine["git_dirty"] else "")
        + " |",
        "| versions | " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()) + " |",
        "",
        "Each result file records the environment it was measured in; it is given with "
        "its tables below. The machine is shared: the load average before and after each "
        "run is recorded, and timings are only comparable within one table.",
        "",
    ]
    if records:
        lines += [
            "**Runs of this invocation**",
            "",
            "| script | command | status | wall s | load before → after |",
            "|---|---|---|---|---|",
        ]
        for r in records:
            load = (
                f"{'/'.join(map(str, r['load_before']))} → {'/'.join(map(str, r['load_after']))}"
                if r.get("load_before") and r.get("load_after")
                else ""
            )
            lines.append(
                f"| {r['script']} | {_code(r['command']) if r.get('command') else ''} | "
                f"{r['status']} | {r.get('seconds', '')} | {load} |"
            )
        lines.append("")

    rows = paper_rows(results)
    lines += ["## The seeds' reported numbers next to ours", ""]
    if rows:
        lines += [
            "Only where the paper gives numbers and the benchmark measures the same "
            "quantity. Seed 000 = `000_c2daca84f3c63cf9` (Enhancing Training Robustness "
            "through Influence Measure); its Figures 2–4 and 11 give no numbers and are "
            "compared in shape on the benchmark pages.",
            "",
            "| seed 000 | reported | measured here | result file |",
            "|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        lines.append("No result file holds the like-for-like figures yet.")
    lines.append("")

    peer_tables = []
    for name, files in results.items():
        for path, payload in files:
            for table in tables_in(payload):
                if any(peer in table.lower() for peer in PEERS):
                    peer_tables.append((name, path, table))
    lines += ["## Peers measured in the same run", ""]
    if peer_tables:
        lines += [
            "Tables in which a peer library (pyDVL, cleanlab) was run by the same script, on "
            "the same data and machine, as skinfluence.",
            "",
        ]
        for name, path, table in peer_tables:
            lines += [f"From `bench_{name}.py` (`{path.name}`):", "", table, ""]
    else:
        lines += ["No result file holds a peer comparison yet.", ""]

    lines += ["## All results, by script", ""]
    status = {r["script"]: r for r in records or []}
    for script in scripts:
        name = short_name(script)
        lines += [f"### `{script.name}`", ""]
        summary = script_summary(script)
        if summary:
            lines += [summary, ""]
        rec = status.get(script.name)
        if rec and rec["status"] != "ok":
            lines += [f"**This invocation: {rec['status']}**", ""]
            lines += ["```text", rec.get("error", "").strip()[-1500:] or "(no output)", "```", ""]
        files = results.get(name, [])
        if not files:
            lines += [
                "No results yet: run `python benchmarks/" + script.name + "` "
                "(or `python benchmarks/run_all.py --only " + name + "`).",
                "",
            ]
            continue
        for path, payload in files:
            quick = payload.get("quick", "_quick" in path.stem)
            env = payload.get("environment") or _find(payload, "environment") or {}
            command = env.get("command") or next(iter(_commands(payload)), None)
            loads = _loads(payload)[:6]
            lines += [
                f"**`{path.name}`**" + (" — quick mode" if quick else ""),
                "",
                f"* command: {_code(command) if command else 'not recorded'}",
                f"* environment: {_env_line(env)}",
            ]
            if loads:
                lines.append("* load average: " + "; ".join(loads))
            lines.append("")
            tables = [t for t in tables_in(payload) if not any(p in t.lower() for p in PEERS)]
            peers = len(tables_in(payload)) - len(tables)
            if peers:
                lines += [f"({peers} peer table(s) of this file are in the peers section.)", ""]
            for table in tables:
                lines += [table, ""]
            if not tables and not peers:
                lines += ["(this file holds no table)", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="each script's --quick mode")
    mode.add_argument(
        "--from-results",
        action="store_true",
        help="run nothing; assemble the page from benchmarks/results/*.json",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="scripts to run, e.g. speed quality"
    )
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="scripts not to run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the page (default docs/benchmarks.md; with --quick benchmarks/results/"
        "benchmarks_quick.md)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds allowed per script (default none)"
    )
    parser.add_argument("--list", action="store_true", help="list the scripts and their options")
    args = parser.parse_args(argv)

    scripts = discover()
    names = [short_name(s) for s in scripts]
    for chosen in (args.only or []) + args.skip:
        if chosen.removeprefix("bench_").removesuffix(".py") not in names:
            parser.error(f"no benchmark {chosen!r}; found: {', '.join(names)}")
    if args.list:
        for script in scripts:
            print(f"{script.name}: {' '.join(sorted(script_flags(script)))}")
        return 0
    wanted = {n.removeprefix("bench_").removesuffix(".py") for n in args.only or names}
    wanted -= {n.removeprefix("bench_").removesuffix(".py") for n in args.skip}
    to_run = [s for s in scripts if short_name(s) in wanted]

    records = None
    if not args.from_results:
        machine_before = machine_environment()
        print(f"[run_all] {len(to_run)} script(s); load {machine_before['load_average']}")
        records = run_scripts(to_run, args.quick, args.timeout)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        log = {"machine_before": machine_before, "runs": records}
        (RESULTS_DIR / ("run_all_quick.json" if args.quick else "run_all.json")).write_text(
            json.dumps(log, indent=2) + "\n"
        )
    machine = machine_environment()
    page_mode = "quick" if args.quick else ("from-results" if args.from_results else "full")
    results = load_results(names, prefer_quick=args.quick)
    out = args.out or (QUICK_PAGE if args.quick else DEFAULT_PAGE)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_page(scripts, results, machine, records, page_mode))
    print(f"[run_all] wrote {out}")
    failed = [r["script"] for r in records or [] if r["status"] in ("failed", "timed out")]
    if failed:
        print(f"[run_all] failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
