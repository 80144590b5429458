"""PNG curves of a run's metrics: accuracy on the held-out images and training loss, against
training samples applied; settings changed live, reconnections and resumed runs are marked."""

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt  # noqa: E402


def curves(records, path, title=None):
    evals = [r for r in records if r["event"] == "eval"]
    steps = [r for r in records if r["event"] == "step"]
    if not evals and not steps:
        raise ValueError("no eval or step records to plot")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    if evals:
        top.plot([r["samples"] for r in evals], [100 * r["accuracy"] for r in evals], marker="o")
    top.set_ylabel("held-out accuracy (%)")
    top.grid(alpha=0.3)
    if steps:
        window = max(1, len(steps) // 50)
        losses = [r["loss"] for r in steps]
        smooth = [sum(losses[max(0, i - window + 1):i + 1]) / len(losses[max(0, i - window + 1):i + 1])
                  for i in range(len(losses))]
        bottom.plot([r["samples"] for r in steps], smooth)
    bottom.set_ylabel("training loss (nats, running mean)")
    bottom.set_xlabel("training samples applied")
    bottom.grid(alpha=0.3)
    for r in records:
        if r["event"] in ("set", "reconnect", "resume"):
            # A reconnect or a resumed run goes on after the board's last checkpoint: that is where it is drawn.
            at = r["samples"] if r["event"] == "set" else r["resumed_at"]
            refused = r["event"] == "set" and "error" in r
            label = {"reconnect": "reconnect", "resume": "resumed"}.get(r["event"]) or (
                f"{r['key']}={r['value']}" + (" (refused)" if refused else ""))
            for axis in (top, bottom):
                axis.axvline(at, color="lightgrey" if refused else "grey", linestyle=":", linewidth=1)
            top.annotate(label, (at, top.get_ylim()[0]), rotation=90, fontsize=7, va="bottom",
                         color="grey" if refused else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
