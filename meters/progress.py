"""The progress bar of the platform's long jobs (training, evaluation, batch work)."""

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress_bar(*, transient: bool = False, stderr: bool = False, shown: bool = True) -> Progress:
    """Description, bar, done of total, elapsed time."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True) if stderr else None, disable=not shown, transient=transient)
