"""Terminal progress for training: a bar per epoch and a one-line summary after it."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from search.api import EpochResult


class EpochBars:
    """Like the usual PyTorch MNIST logs, but one live bar instead of a wall of lines."""

    def __init__(self, console: Console, eval_name: str = "val") -> None:
        self.console = console
        self.eval_name = eval_name
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start_epoch(self, epoch: int, epochs: int, batches: int) -> None:
        if not self.console.is_terminal:  # logs get the one-line summaries only
            return
        self._progress = Progress(
            TextColumn(f"epoch {epoch:>2}/{epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2f}%"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._task = self._progress.add_task("train", total=batches, loss=0.0, acc=0.0)
        self._progress.start()

    def batches_done(self, done: int, loss: float, acc: float) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, loss=loss, acc=acc)

    def end_epoch(self, result: EpochResult, epochs: int) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self.console.print(epoch_line(result, epochs, self.eval_name), highlight=False, soft_wrap=True)


def epoch_line(r: EpochResult, epochs: int, eval_name: str) -> str:
    return (
        f"epoch {r.epoch:>2}/{epochs}  train loss {r.train_loss:.4f} acc {r.train_acc:6.2f}%  "
        f"{eval_name} loss {r.eval_loss:.4f} acc {r.eval_acc:6.2f}%  lr {r.lr:.2g}  {r.seconds:5.1f}s"
    )
