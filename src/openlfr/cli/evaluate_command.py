"""`openlfr evaluate`: the equity and accuracy audit from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from openlfr.cli.errors import fail
from openlfr.evaluation.defaults import DEFAULT_ALPHA, DEFAULT_TARGET_FPIR, DEFAULT_THRESHOLDS
from openlfr.recognition.backends import DEFAULT_DESCRIPTOR

if TYPE_CHECKING:
    from openlfr.evaluation.describe import ImageDescription

# soft_wrap: a long message stays one line, for people and for scripts reading stderr.
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def evaluate_command(
    dataset_path: Path = typer.Argument(
        ...,
        metavar="DATASET",
        help="A folder with one sub-folder per identity (LFW layout), or a CSV manifest with "
        "'file' and 'identity' columns and optional group columns (sex, age_band, "
        "ethnicity, ...). 'file' is relative to the manifest's folder.",
    ),
    pairs: Path | None = typer.Option(
        None, "--pairs", metavar="PAIRS_FILE",
        help="LFW-style pairs file for 1:1 verification: a header ('10 300'), then "
        "'name i j' or 'name1 i name2 j'; images at DATASET/name/name_000i.jpg (for a "
        "manifest, in name/ folders beside it).",
    ),
    watchlist_sizes: list[int] = typer.Option(
        [], "--watchlist-size", min=1, metavar="N",
        help="Watchlist size to evaluate at (repeat for several). Default: the largest the "
        "dataset can fill.",
    ),
    thresholds: str = typer.Option(
        DEFAULT_THRESHOLDS, "--thresholds", metavar="A:B:STEP",
        help="Thresholds on the engine's decision score (0..1) to sweep, start:stop:step "
        "(both ends included) or a comma list.",
    ),
    out: Path = typer.Option(
        Path("evaluation"), "--out", "-o", metavar="DIR",
        help="Folder for results.json, the CSV tables and report.html.",
    ),
    workers: int = typer.Option(2, min=0, help="Worker processes describing images (0: none)."),
    backend: str = typer.Option(
        "auto", help="Networks, as for `openlfr watch`: auto (ONNX Runtime if it loads, else "
        "dlib), onnx, or dlib. Evaluate the one in use.",
    ),
    descriptor: str = typer.Option(
        DEFAULT_DESCRIPTOR,
        help="Descriptor to evaluate: w600k (the default), mobilefacenet or dlib. Audit the "
        "one the deployment's watchlists are built with: rates differ between networks.",
    ),
    group_columns: list[str] = typer.Option(
        [], "--group-column", "-g", metavar="NAME",
        help="Manifest (or --labels) column to compare groups by; repeat for several. "
        "Default: those of sex, gender, age_band, age_group, ethnicity, race, skin_tone, "
        "group that are present.",
    ),
    labels: Path | None = typer.Option(
        None, "--labels", metavar="CSV",
        help="For a folder dataset: a CSV with an 'identity' column and group columns.",
    ),
    filler: Path | None = typer.Option(
        None, "--filler", metavar="DIR",
        help="Folder of extra identities (one sub-folder each) used only to pad watchlists.",
    ),
    seed: int = typer.Option(0, help="Seed of the identity split (results are reproducible)."),
    target_fpir: float = typer.Option(
        DEFAULT_TARGET_FPIR, "--target-fpir", min=0.0, max=1.0,
        help="The recommended threshold keeps the observed FPIR at or below this.",
    ),
    alpha: float = typer.Option(
        DEFAULT_ALPHA, "--alpha", min=0.0001, max=0.5,
        help="Significance level of the test for a difference between groups.",
    ),
    cache: Path | None = typer.Option(
        None, "--cache", metavar="FILE",
        help="Keep face descriptors (never images) in this .npz file to speed up re-runs. "
        "Off by default: descriptors are biometric data; protect and delete the file.",
    ),
    register_url: str | None = typer.Option(
        None, "--register", metavar="URL",
        help="Record the result with the platform: the technology register entry's URL, "
        "e.g. https://platform.example/api/technology/3.",
    ),
    api_key: str | None = typer.Option(
        None, "--api-key", metavar="KEY", envvar="OPENLFR_API_KEY",
        help="API key for --register (sent as X-API-Key; or set OPENLFR_API_KEY): an "
        "audit tool's key, which oversight issues (/staff/admin/audit-keys).",
    ),
    address: str | None = typer.Option(
        None, "--address", metavar="auto|HOST:PORT",
        help="Describe the images on a Ray cluster (one process per core of every "
        "machine): 'auto' joins the one `ray start` runs on this machine, HOST:PORT its "
        "head. The photos are sent to the workers (no shared folder needed). --workers is "
        "then unused.",
    ),
    second_opinion: bool = typer.Option(
        False, "--second-opinion",
        help="Decide as `openlfr watch --second-opinion` does: describe each face with "
        "dlib's network too and lift a search's score by 0.25 where it puts the same "
        "entry first, within 0.55 of it in its own distance. The results and a registered "
        "audit say so.",
    ),
) -> None:
    """Measure the engine's accuracy and its fairness between groups, NPL-style.

    1:N identification: TPIR, FNIR and FPIR per threshold and per group with 95%
    intervals, a test for a difference between groups, the lowest threshold from which
    no group's false alerts differ significantly, and expected false alerts per 1,000
    faces. With --pairs, 1:1 verification accuracy over 10 folds as LFW does.

    A search is decided as the engine decides an alert: its score is how far the best
    watchlist entry stands out from the rest of that watchlist, so rates depend on the
    watchlist size. Verification thresholds the two descriptors' similarity.

    A false alert whose two photos two of three networks (w600k, mobilefacenet, dlib)
    call one person is listed with a warning: probably one person filed under two
    identities. It still counts in the rates; merge such identities and run again.

    Writes results.json, CSV tables and a self-contained report.html into --out. No face
    image is written anywhere.
    """
    # Imported here, not at the top: SciPy and Matplotlib would slow every command.
    from openlfr.evaluation import (
        EvaluationError,
        EvaluationOptions,
        evaluate,
        load_dataset,
        load_pairs,
        parse_thresholds,
        write_report,
    )
    from openlfr.evaluation.describe import load_cache, save_cache
    from openlfr.evaluation.register import audit_payload, register_audit
    from openlfr.recognition import FaceAnalyzer, RecognitionError
    from openlfr.recognition.analyzer import reference_model_id

    if register_url and not api_key:
        fail("--register needs --api-key (or OPENLFR_API_KEY)")
    if api_key and not register_url:
        fail("--api-key is only used with --register URL")
    try:
        options = EvaluationOptions(
            thresholds=parse_thresholds(thresholds),
            watchlist_sizes=list(watchlist_sizes),
            seed=seed,
            alpha=alpha,
            target_fpir=target_fpir,
        )
        dataset = load_dataset(dataset_path, group_columns=group_columns or None,
                               labels_csv=labels)
        pairs_file = load_pairs(pairs, dataset.images_root) if pairs is not None else None
        filler_set = load_dataset(filler) if filler is not None else None
        if filler_set is not None and filler_set.kind != "folders":
            fail(f"--filler {filler}: give a folder with one sub-folder per identity")
        analyzer = FaceAnalyzer(backend=backend, descriptor=descriptor)
        # A cache holds the second opinion's descriptors only when made with it: its id
        # names both models, so the two kinds of run never read each other's.
        cache_id = analyzer.model_id + (f"+{reference_model_id()}" if second_opinion else "")
        cached = load_cache(cache, cache_id) if cache is not None else None
    except (EvaluationError, RecognitionError) as exc:
        fail(exc)
    if address is not None:
        from openlfr.fleet import FleetError, start_ray

        try:
            start_ray(address)
        except FleetError as exc:
            fail(exc)

    total = len({s.path for s in dataset.samples}
                | ({p for pair in pairs_file.pairs for p in (pair.first, pair.second)}
                   if pairs_file else set())
                | ({s.path for s in filler_set.samples} if filler_set else set()))
    stderr.print(
        f"{dataset.root}: {len(dataset.identities)} identities, {len(dataset.samples)} images"
        + (f", groups by {', '.join(dataset.group_columns)}" if dataset.group_columns else "")
        + (f", {len(dataset.skipped)} listed files skipped" if dataset.skipped else "")
    )
    for skipped in dataset.skipped:
        stderr.print(f"skipped {skipped.path}: {skipped.problem}")
    # No auto-refresh thread: with no other thread running, the worker processes can be
    # forked with the loaded networks instead of spawned and loading them again.
    progress = Progress(
        TextColumn("describing"), BarColumn(), MofNCompleteColumn(), TextColumn("images"),
        TimeRemainingColumn(), console=stderr, transient=True, auto_refresh=False,
    )

    try:
        with progress:
            task = progress.add_task("images", total=total)

            def on_image(path: Path, description: ImageDescription) -> None:
                if description.unreadable:
                    progress.console.print(f"skipped {path}: {description.problem}")
                progress.advance(task)
                progress.refresh()

            def on_check(alerts: int, photos: int) -> None:
                progress.console.print(
                    f"checking {alerts} non-mated alerts for one person filed under two "
                    f"identities: {photos} photos described by two more networks")

            results, descriptions = evaluate(
                dataset, analyzer, options, pairs=pairs_file, filler=filler_set,
                workers=workers, on_image=on_image, cache=cached,
                on_cluster=address is not None, second_opinion=second_opinion,
                on_check=on_check,
            )
        if cache is not None:
            save_cache(cache, cache_id, descriptions)
        written = write_report(results, out)
    except (EvaluationError, RecognitionError, OSError) as exc:
        fail(exc)

    _print_summary(results)
    for warning in results["warnings"]:
        stderr.print(f"warning: {warning}")
    print(f"wrote {', '.join(p.name for p in written)} to {out}")

    if register_url and api_key:
        try:
            payload = audit_payload(results, dataset_name=str(dataset_path))
            record = register_audit(register_url, api_key, payload)
        except EvaluationError as exc:
            fail(exc)
        print(f"registered equity audit {record.get('id', '')} at {register_url}".rstrip())


def _print_summary(results: dict[str, Any]) -> None:
    """The headline table on stdout: TPIR and FPIR per threshold at each watchlist size."""
    ds = results["dataset"]
    second = results["engine"].get("second_opinion")
    print(
        f"model {results['engine']['model_id']}"
        + (f" with a second opinion from {second['model_id']}" if second else "")
        + f"; {ds['identities']} identities, "
        f"{ds['images_described']} images described, {ds['images_no_face']} no face, "
        f"{ds['images_unreadable']} unreadable"
    )
    for r in results["identification"]:
        print(
            f"watchlist {r['watchlist_size']}: {r['mated_searches']} mated searches, "
            f"{r['nonmated_searches']} non-mated searches"
        )
        print("  threshold   TPIR   (95% CI)          FPIR   (95% CI)          false alerts/1000")
        for row in r["overall"]:
            tp_low, tp_high = row["tpir_ci"]
            fp_low, fp_high = row["fpir_ci"]
            print(
                f"  {row['threshold']:9.2f}  {row['tpir']:6.3f} ({tp_low:5.3f}-{tp_high:5.3f})"
                f"   {row['fpir']:6.3f} ({fp_low:5.3f}-{fp_high:5.3f})"
                f"   {row['false_alerts_per_1000']:8.1f}"
            )
    fair, recommended = results["fair_threshold"], results["recommended_threshold"]
    print(f"fair threshold: {'none found' if fair is None else f'{fair:.2f}'}; "
          f"recommended threshold: {'none found' if recommended is None else f'{recommended:.2f}'}")
    v = results.get("verification")
    if v:
        print(f"verification: accuracy {v['accuracy_mean']:.4f} +/- {v['accuracy_std']:.4f} "
              f"({v['folds']} folds, {v['pairs_used']} pairs)")
        if v["pairs_skipped"]:
            print(f"  over all {v['pairs']} pairs, the {v['pairs_skipped']} without a face "
                  f"in an image counted wrong: {v['accuracy_all_pairs_mean']:.4f} "
                  f"+/- {v['accuracy_all_pairs_std']:.4f}")


# Paragraphs as single strings: the help renderer keeps a docstring's line breaks.
HELP = "\n\n".join([
    "Measure the engine's accuracy and its fairness between groups, NPL-style.",
    "1:N identification: TPIR, FNIR and FPIR per threshold and per group with 95% "
    "intervals, a test for a difference between groups, the lowest threshold from which no "
    "group's false alerts differ significantly, and expected false alerts per 1,000 faces. "
    "With --pairs, 1:1 verification accuracy over 10 folds as LFW does: over the pairs "
    "whose images both have a face, and over all pairs with the others counted wrong "
    "(the figure to compare with published ones).",
    "A search is decided as the engine decides an alert: its score (0..1) is how far the "
    "best watchlist entry stands out from the rest of that watchlist, so rates depend on the "
    "watchlist size. Verification thresholds the two descriptors' similarity.",
    "Writes results.json, CSV tables and a self-contained report.html into --out. No face "
    "image is written anywhere.",
])


def register(app: typer.Typer) -> None:
    """Add `openlfr evaluate` to the CLI."""
    app.command("evaluate", help=HELP)(evaluate_command)
