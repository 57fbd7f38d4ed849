"""Run the course's recipes against the source lessons' recipes and write results.json.

    python benchmarks/run.py                    # full run (make bench): sweep, eight rows
    python benchmarks/run.py --quick            # smoke run in well under two minutes
    python benchmarks/run.py --rows tokenize,serving --threads 2 --batch-size 64

Each row times the source recipe and the course recipe alternately in this process,
``repeats`` times each, on the same model (MiniLM), data (the review snippets) and
thread count, checks that both give the same result, and records the medians, the
spread and the peak memory. The machine's line (``machine_report``: instruction sets, fp32
and bf16 matrix-product ceilings) is printed and recorded with them. The thread count and the
batch size come from a measured sweep unless both are given. ``--update-readme`` rewrites
the results section of benchmarks/README.md from the new results (``make bench`` passes it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from context import MODES, Context, prepare_environment  # noqa: E402

from course_utils.atomic import write_text_atomically  # noqa: E402

ROWS = ("tokenize", "inference", "frozen_head", "finetune", "ceiling", "serving", "optimizer",
        "precision")
DEFAULT_OUTPUT = {"full": HERE / "results.json",
                  "quick": HERE.parent / "runs" / "bench-quick" / "results.json"}
README = HERE / "README.md"
START_MARK, END_MARK = "<!-- results:start -->", "<!-- results:end -->"


def parse_args(argv=None) -> argparse.Namespace:
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the harness works")
    parser.add_argument("--output", type=Path, help="where to write results.json "
                        "(default: benchmarks/results.json, or runs/bench-quick/ with --quick)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated subset of {ROWS}")
    parser.add_argument("--threads", type=int, help="torch threads (default: from the sweep)")
    parser.add_argument("--batch-size", type=int,
                        help="course batch size (default: from the sweep)")
    parser.add_argument("--update-readme", action="store_true",
                        help="rewrite the results section of benchmarks/README.md")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        parser.error(f"unknown row(s) {unknown or rows}: choose from {', '.join(ROWS)}")
    args.rows = rows
    for name in ("threads", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return args


def log(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)


def format_figure(fig: dict) -> str:
    """Return '123.4 texts/s (120-130)' for a median-and-spread record."""
    def short(value: float) -> str:
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{short(fig['median'])} {fig['unit']} ({short(fig['min'])}–{short(fig['max'])})"


def results_table(results: dict) -> str:
    """Return the rows as a Markdown table."""
    lines = ["| row | source recipe | course recipe | ratio (target) | target met | same result "
             "| peak RSS MB source → course |", "|---|---|---|---|---|---|---|"]
    for row in results["rows"]:
        if "error" in row:
            failure = row["error"].splitlines()[-1]
            lines.append(f"| {row['name']} | failed: {failure} | | | | no | |")
            continue
        if row.get("applicable") is False:
            lines.append(f"| {row['name']} | {row['reason']} | | | – | – | – |")
            continue
        ratio = (f"{row['ratio']:.0%} ({row['target']:.0%})" if row["name"] == "ceiling"
                 else f"{row['ratio']:.{2 if row['ratio'] < 2 else 1}f}× ({row['target']:g}×)")
        memory = row.get("peak_rss_mb")
        memory = f"{memory['baseline']:,.0f} → {memory['course']:,.0f}" if memory else "–"
        lines.append(f"| {row['name']} | {format_figure(row['baseline'])} | "
                     f"{format_figure(row['course'])} | {ratio} | "
                     f"{'yes' if row['ratio'] >= row['target'] else 'no'} | "
                     f"{'yes' if row['same_result'] else 'NO'} | {memory} |")
    return "\n".join(lines)


def row_notes(results: dict) -> str:
    """Return one Markdown bullet per row with the numbers that explain its ratio."""
    rows = {row["name"]: row for row in results["rows"] if "error" not in row}
    notes = []
    if "tokenize" in rows:
        d = rows["tokenize"]["details"]
        shares = d["time_shares_profiled"]
        notes.append(
            f"- **tokenize** ({d['texts']} snippets, {d['mean_tokens_per_text']} tokens each "
            "on average): "
            f"{d['microseconds_per_text']['baseline']} µs per text for the source recipe, of which "
            f"{shares['baseline']['tokenize']:.0%} is the pure-Python WordPiece itself and "
            f"{shares['baseline']['prepare_for_model']:.0%} adding special tokens and padding; "
            f"{d['microseconds_per_text']['course']} µs for the course recipe, "
            f"{shares['course']['encode_batch']:.0%} of it inside the Rust `encode_batch`. "
            f"Tokens materialised: {d['tokens_materialised']['baseline']:,} vs "
            f"{d['tokens_materialised']['course']:,} "
            f"({d['tokens_materialised']['course_after_batch_padding']:,} after padding each "
            "batch). "
            f"Up to model-ready tensors (LongTensor of the padded lists vs DataCollatorWithPadding "
            f"per batch): {d['to_model_ready_tensors']['ratio']}×. Against the Rust tokenizer's "
            f"own `encode_batch` on the same texts and settings "
            f"({d['rust_encode_batch']['ceiling']['median']:,.0f} texts/s), the course recipe "
            f"keeps a share of {rows['tokenize']['ceiling_share']:.2f} (target "
            f"{rows['tokenize']['ceiling_share_target']:g}).")
    if "inference" in rows:
        d, c = rows["inference"]["details"], rows["inference"]["checks"]
        notes.append(
            f"- **inference**: positions computed per pass over {d['texts']} snippets: "
            f"{d['positions_computed_per_run']['baseline']:,} (padded to 512) vs "
            f"{d['positions_computed_per_run']['course']:,} ({d['real_tokens']:,} real tokens); "
            f"features differ by at most {c['max_abs_difference']:.1e}. GFLOP per pass "
            f"{d['gflop_per_pass']['baseline']} vs {d['gflop_per_pass']['course']} "
            f"({d['gflop_per_pass']['baseline'] / d['gflop_per_pass']['course']:.1f}× fewer), "
            "run at "
            f"{d['achieved_gflops']['baseline']} vs {d['achieved_gflops']['course']} GFLOP/s: the "
            "speed-up is the FLOP ratio times the ratio of the two efficiencies.")
    if "frozen_head" in rows:
        d, c = rows["frozen_head"]["details"], rows["frozen_head"]["checks"]
        notes.append(
            f"- **frozen_head**: {d['epochs']} epochs on {d['train_texts']} snippets; held-out "
            f"accuracy {c['accuracy']['baseline']:.3f} vs {c['accuracy']['course']:.3f} on "
            f"{c['held_out_texts']} snippets, predictions agree on "
            f"{c['prediction_agreement']:.1%}.")
    if "finetune" in rows:
        d, c = rows["finetune"]["details"], rows["finetune"]["checks"]
        notes.append(
            f"- **finetune**: {d['steps']} steps of {d['batch_size']}; mean training loss "
            f"{d['mean_train_loss']['baseline']} vs {d['mean_train_loss']['course']}; "
            "padding to 512 "
            f"changes one batch's loss by {c['loss_difference_padded_512_vs_longest']:.1e}.")
    if "ceiling" in rows:
        d, c = rows["ceiling"]["details"], rows["ceiling"]["checks"]
        notes.append(
            f"- **ceiling**: {d['gflop_per_run']} GFLOP per pass over {d['texts']} snippets, "
            f"{d['useful_share_of_flops']:.0%} of them on real tokens (the rest is batch padding); "
            f"analytic count vs torch's FlopCounterMode: {c['relative_difference']:.2%} apart.")
    if "serving" in rows:
        d, c = rows["serving"]["details"], rows["serving"]["checks"]
        w = d["where_time_goes"]
        candidates = "; ".join(
            f"{name} {row['agreement']:.2%} (lower bound {row['agreement_low']:.2%}, accuracy "
            f"{row['accuracy_vs_fp32']})" for name, row in d["candidates"].items())
        notes.append(
            f"- **serving** ({d['classifier']}): lesson 07's rule serves {c['served_recipe']}, "
            f"agreement with fp32 on {c['texts_compared']:,} test snippets: {candidates}. One "
            f"text per call spends {w['baseline']['model_forward_share']:.0%} of its time in the "
            f"model's forward pass ({w['baseline']['achieved_gflops']} GFLOP/s); the served "
            f"recipe on length-sorted batches runs at {w['course']['achieved_gflops']} GFLOP/s "
            f"(export and quantization: {d['export_and_quantize_seconds']} s, once).")
    if "optimizer" in rows:
        d, c = rows["optimizer"]["details"], rows["optimizer"]["checks"]
        ms, share = d["optimizer_step_ms"], d["optimizer_step_share"]
        notes.append(
            f"- **optimizer**: {d['steps']} steps of {d['batch_size']}; `optimizer.step()` takes "
            f"{ms['baseline']} ms per step ({share['baseline']:.0%} of the pass) for the for-loop "
            f"AdamW vs {ms['course']} ms ({share['course']:.0%}) fused; after the pass the "
            f"parameters differ by at most {c['max_abs_parameter_difference']:.1e}.")
    if "precision" in rows:
        row = rows["precision"]
        if row.get("applicable") is False:
            notes.append(f"- **precision**: {row['reason']}.")
        else:
            d, c = row["details"], row["checks"]
            notes.append(
                f"- **precision** ({row['reason']}): bf16 agrees with fp32 on {c['agreement']:.2%} "
                f"of {c['texts_compared']:,} test snippets (lower bound {c['agreement_low']:.2%}), "
                f"accuracy {c['accuracy_vs_fp32']}; {d['finetune_steps']} fine-tuning steps take "
                f"{d['finetune_seconds']['baseline']} s in fp32 vs "
                f"{d['finetune_seconds']['course']} s in bf16 ({d['finetune_ratio']}×), first-step "
                "losses "
                f"{c['first_step_loss_difference']:.1e} apart.")
    return "\n".join(notes)


def sweep_table(sweep: dict | None) -> str:
    """Return the thread / batch sweep as a Markdown table (threads down, batch sizes across)."""
    if not sweep:
        return "(no sweep: thread count and batch size were given on the command line)"
    batches = sorted({r["batch_size"] for r in sweep["table"]})
    lines = ["| threads | " + " | ".join(f"batch {b}" for b in batches) + " |",
             "|---|" + "---|" * len(batches)]
    for threads in sorted({r["threads"] for r in sweep["table"]}):
        cells = {r["batch_size"]: r["texts_per_second"]
                 for r in sweep["table"] if r["threads"] == threads}
        lines.append(f"| {threads} | " + " | ".join(f"{cells.get(b, '–')}" for b in batches) + " |")
    return "\n".join(lines)


def busy_warning(machine: dict) -> str:
    """Return a warning line when the load average says other work shared the cores."""
    loads = [v for key in ("start", "end") for v in machine["load_average"].get(key, [])[:1]]
    if loads and max(loads) > 0.5 + machine["threads"]:
        return (f"**Measured on a busy machine** (1-minute load average up to {max(loads)} on "
                f"{machine['cores']} cores, {machine['threads']} used here): the other work "
                "slowed both recipes unevenly. Re-run `make bench` on a quiet machine before "
                "quoting these numbers.\n\n")
    return ""


def markdown_report(results: dict) -> str:
    """Return the Markdown section README.md shows for one run."""
    m = results["machine"]
    head = (f"Run of {results['finished']} ({results['mode']} mode, {results['seconds']:.0f} s), "
            f"{m['cpu']}, {m['cores']} cores, {m['threads']} torch thread(s), course batch size "
            f"{results['batch_size']}, torch {m['torch']}, transformers {m['transformers']}, "
            f"load average {m['load_average'].get('start')} at the start, "
            f"{m['load_average'].get('end')} at the end.\n\n")
    if m.get("report"):
        head += f"Machine: {m['report']}.\n\n"
    return (busy_warning(m) + head + results_table(results) + "\n\n" + row_notes(results)
            + "\n\nThread and batch-size sweep (course inference, texts/s, median of 2):\n\n"
            + sweep_table(results.get("sweep")) + "\n")


def update_readme(results: dict, path: Path = README) -> None:
    """Replace the text between the results markers of README.md with this run's tables."""
    text = path.read_text(encoding="utf-8")
    if START_MARK not in text or END_MARK not in text:
        raise SystemExit(f"{path} has no {START_MARK} ... {END_MARK} section to update.")
    before, rest = text.split(START_MARK, 1)
    _, after = rest.split(END_MARK, 1)
    new = before + START_MARK + "\n" + markdown_report(results) + END_MARK + after
    write_text_atomically(path, new)


def run_rows(ctx: Context, rows: list[str]) -> list[dict]:
    """Run the chosen rows in order; a failing row is recorded with its error, not fatal."""
    import importlib

    records = []
    for name in rows:
        log(f"row {name} ...")
        start = time.perf_counter()
        try:
            ctx.set_threads()
            record = importlib.import_module(f"bench_{name}").run(ctx)
        except Exception:  # noqa: BLE001 - recorded, reported, and makes the run fail
            record = {"name": name, "error": traceback.format_exc(), "same_result": False}
        record["seconds"] = round(time.perf_counter() - start, 1)
        records.append(record)
        if "error" in record:
            log(f"row {name} FAILED:\n{record['error']}")
        elif record.get("applicable") is False:
            log(f"row {name}: {record['reason']}")
        else:
            log(f"row {name}: ratio {record['ratio']} (target {record['target']}), "
                f"same result {record['same_result']}, {record['seconds']} s")
    return records


def main(argv=None) -> int:
    """Run the benchmark and return the exit status (1 if a row failed or disagreed)."""
    args = parse_args(argv)
    prepare_environment()
    from harness import load_average, machine_info
    from sweep import run_sweep

    from course_utils.session import (
        cpu_features,
        default_threads,
        machine_report,
        matmul_ceilings,
        quiet_libraries,
    )

    quiet_libraries()
    started = time.perf_counter()
    mode = "quick" if args.quick else "full"
    sizes = MODES[mode]
    load_at_start = load_average()
    ctx = Context.load(sizes, threads=args.threads or default_threads(),
                       batch_size=args.batch_size or 64, seed=args.seed, log=log)
    sweep = None
    if args.threads is None or args.batch_size is None:
        log("sweep: threads x batch size for the course's inference ...")
        sweep = run_sweep(ctx)
        ctx.threads = args.threads or sweep["chosen"]["threads"]
        ctx.batch_size = args.batch_size or sweep["chosen"]["batch_size"]
    log(f"using {ctx.threads} thread(s), course batch size {ctx.batch_size}")
    ctx.set_threads()
    ceilings = matmul_ceilings()        # after the sweep, with the threads the rows use
    report = machine_report(cpu_features(), ceilings)
    log(f"machine: {report}")
    rows = run_rows(ctx, args.rows)
    machine = machine_info(ctx.threads)
    machine.update(matmul_ceilings=ceilings, report=report)   # cpu_features: machine_info
    machine["load_average"] = {"start": load_at_start, "end": load_average()}
    results = {"mode": mode, "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "seconds": round(time.perf_counter() - started, 1), "machine": machine,
               "batch_size": ctx.batch_size, "seed": args.seed, "sizes": sizes.__dict__,
               "sweep": sweep, "rows": rows}
    output = args.output or DEFAULT_OUTPUT[mode]
    write_text_atomically(output, json.dumps(results, indent=2) + "\n")
    print()
    print(busy_warning(machine) + results_table(results))
    print(f"\nwrote {output} ({results['seconds']:.0f} s)")
    if args.update_readme:
        update_readme(results)
        print(f"updated {README}")
    failed = [r["name"] for r in rows
              if "error" in r or (r.get("applicable", True) and not r["same_result"])]
    if failed:
        print(f"rows that failed or disagreed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
