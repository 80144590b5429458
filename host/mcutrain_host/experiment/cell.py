"""One cell of the study: a method adapting a model to a corruption, with one seed.

The adaptation samples are a seeded draw from the held-out split less its validation images,
corrupted. A tuning cell (a `rate` given) is evaluated on the validation images, one draw the
same for every cell; a cell of the table on test images drawn by its seed from the test split
(study.py says why). Every method of a seed sees the same samples in the same order, `epochs`
times, `batch` per step, with a cosine schedule over the run; accuracy is measured before, every
`eval_every` samples and at the end.
"""

import functools
import os
import tempfile
import time

from mcutrain import model as device_model
from mcutrain.guard import Guard, keeps
from mcutrain.trainer import Trainer
from mcutrain_host import adaptation_data, network
from mcutrain_host.experiment.methods import METHODS
from mcutrain_host.experiment.study import TEST_SEED, VALIDATION_SEED
from mcutrain_host.optim import Adam, StandardizedSGD
from mcutrain_host.training import softmax_cross_entropy


def key(model, corruption, method, seed, rate=None):
    cell = f"{model}/{corruption}/{method}/{seed}"
    return cell if rate is None else f"tune/{cell}/{rate:g}"


@functools.lru_cache(maxsize=2)
def images(study, corruption, seed, on_validation):
    """(adaptation images, labels, guard images, labels, evaluation images, labels), uint8: the
    evaluation images are the validation images if `on_validation`, else the seed's test images."""
    source = (study.dataset, study.data_dir or None)
    pool = slice(study.validation, None)
    wanted = study.samples + study.guard
    x, y = adaptation_data.draw(*source, "heldout", wanted, seed, corruption, study.severity, within=pool)
    if len(x) < wanted:
        raise ValueError(f"the held-out split has {len(x)} images beside the {study.validation} validation "
                         f"ones, fewer than samples + guard = {wanted}")
    train = x[:study.samples], y[:study.samples], x[study.samples:], y[study.samples:]
    if on_validation:
        evaluation = adaptation_data.draw(*source, "heldout", study.validation, VALIDATION_SEED, corruption,
                                          study.severity, within=slice(0, study.validation))
    else:
        evaluation = adaptation_data.draw(*source, "test", study.test, TEST_SEED + seed, corruption, study.severity)
    return train + evaluation


def schedule(study, count):
    """(steps, sample indices of each step, samples after which to evaluate)."""
    total = study.epochs * count
    steps = total // study.batch
    if not steps:
        raise ValueError(f"{count} samples x {study.epochs} epochs is less than one batch of {study.batch}")
    order = [[(s * study.batch + b) % count for b in range(study.batch)] for s in range(steps)]
    every = max(study.batch, study.eval_every - study.eval_every % study.batch)
    evals = {n for n in range(every, steps * study.batch + 1, every)} | {steps * study.batch}
    return steps, order, evals


def run(study, model, corruption, method, seed, rate=None):
    """The cell's result record: accuracies before and after, the curve, time, forward passes. A
    `rate` makes it a tuning cell: adapting at that rate, evaluated on the validation images."""
    spec = METHODS[method]
    lr = study.learning_rate(model, method) if rate is None else rate
    data = images(study, corruption, seed, rate is not None)
    start = time.perf_counter()
    if spec.family == "float":
        result = adapt_float(study, model, method, lr, *data)
    else:
        result = adapt_int8(study, method, model, lr, *data, seed)
    result.update(key=key(model, corruption, method, seed, rate), model=model, corruption=corruption, method=method,
                  seed=seed, severity=study.severity, lr=lr, evaluated_on="validation" if rate is not None else "test",
                  seconds=round(time.perf_counter() - start, 2))
    return result


def adapt_int8(study, method, model, lr, train_x, train_y, guard_x, guard_y, test_x, test_y, seed):
    spec = METHODS[method]
    m = device_model.load(str(study.model_files(model)[0]))
    inputs = adaptation_data.model_inputs(train_x, m.description)
    test_bytes = b"".join(adaptation_data.model_inputs(test_x, m.description))
    test_labels = bytes(test_y)
    layer_runs = count_layer_runs(m)

    def accuracy():
        runs = layer_runs[0]
        correct = m.evaluate(test_bytes, test_labels)
        layer_runs[0] = runs  # evaluating is not training: its forward passes are not counted
        return correct / len(test_labels)

    if spec.family == "none":
        m.plan(batch=study.batch)
        return {"accuracy_before": accuracy(), "accuracy_after": accuracy(), "curve": [], "steps": 0}
    steps, order, evals = schedule(study, len(inputs))
    t = Trainer(m, batch=study.batch, lr=lr, seed=seed + 1, schedule_name="cosine", total_steps=steps,
                **spec.settings(model, study.queries))
    batches = [(b"".join(inputs[i] for i in idx), bytes(train_y[idx])) for idx in order]
    if spec.sparse:
        t.select_layers(*batches[0], spec.sparse)
    with tempfile.TemporaryDirectory() as folder:
        guard = Guard.new(t, os.path.join(folder, "guard"), len(guard_y))
        guard.add(b"".join(adaptation_data.model_inputs(guard_x, m.description)), bytes(guard_y))
        layer_runs[0] = 0  # the selection's probes are not steps

        def measure():
            runs = layer_runs[0]
            guard.check()
            layer_runs[0] = runs  # nor are the guard's passes
            return accuracy()

        curve = follow(measure, [lambda x=x, y=y: t.step(x, y) for x, y in batches], study.batch, evals)
        guard.restore()
    return {"accuracy_before": curve[0][1], "accuracy_after": accuracy(), "accuracy_unguarded": curve[-1][1],
            "kept_step": guard.kept_step, "guard_bytes": guard.memory(), "curve": curve, "steps": steps,
            "layers": [index for index, _ in t.stats()["layers"]],
            "forwards_per_step": round(layer_runs[0] / steps / len(m.layers), 2)}


def count_layer_runs(m):
    """Counts every layer run of the model from now on, in the returned one-element list."""
    count = [0]
    for layer in m.layers:
        def counted(run=layer.run):
            count[0] += 1
            run()
        layer.run = counted
    return count


def follow(measure, steps, batch, evals):
    """Runs the steps (callables, `batch` samples each) in turn; returns the curve [(samples seen,
    measure())]: before the first step, and after each step that ends on a number in `evals`."""
    curve = [(0, measure())]
    for s, step in enumerate(steps, 1):
        step()
        if s * batch in evals:
            curve.append((s * batch, measure()))
    return curve


def adapt_float(study, model, method, lr, train_x, train_y, guard_x, guard_y, test_x, test_y):
    """Float back-propagation, guarded by the same rule as the int8 methods (mcutrain.guard.keeps):
    the kept state is a copy of the trained parameters."""
    settings = METHODS[method].trainer
    net = network.load(study.model_files(model)[1])
    test, guard_images = network.to_float(test_x), network.to_float(guard_x)
    steps, order, evals = schedule(study, len(train_x))
    weighted = [layer for layer in net.layers if layer.params]
    trained = weighted[-settings["layers"]:] if settings["layers"] else weighted
    optimizer = UPDATE_RULES[settings["rule"]](trained, lr, steps)
    kept = {}

    def accuracy():
        return float((net.logits(test).argmax(axis=1) == test_y).mean())

    def state():
        return [value for layer in trained for value in layer.params.values()]

    def measure():
        hits = bytes(net.logits(guard_images).argmax(axis=1) == guard_y)
        if not kept or keeps(hits, sum(hits), kept["start_hits"], kept["correct"]):
            kept.update(params=[value.copy() for value in state()], step=step.count, correct=sum(hits))
            kept.setdefault("start_hits", hits)
        return accuracy()

    def step(idx):
        logits = net.logits(network.to_float(train_x[idx]), train=True)
        net.backward(softmax_cross_entropy(logits, train_y[idx])[1])
        optimizer.step()
        step.count += 1

    step.count = 0
    curve = follow(measure, [lambda idx=idx: step(idx) for idx in order], study.batch, evals)
    for value, saved in zip(state(), kept["params"]):
        value[...] = saved
    return {"accuracy_before": curve[0][1], "accuracy_after": accuracy(), "accuracy_unguarded": curve[-1][1],
            "kept_step": kept["step"], "curve": curve, "steps": steps,
            "layers": [net.layers.index(layer) for layer in trained], "forwards_per_step": 1}


UPDATE_RULES = {"adam": Adam, "standardized": StandardizedSGD}
