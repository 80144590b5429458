"""The adaptation study of `mcutrain experiment` (issue #8): every method on every corruption,
over several seeds, on the host simulation.

    study.py    what to run: models, corruptions, methods, seeds, and the shared hyperparameters
    methods.py  the methods compared, as Trainer settings (or float back-propagation)
    cell.py     one cell: a method adapting one model to one corruption with one seed
    tuning.py   learning rates chosen on validation images, before the table's cells
    runner.py   all cells on a process pool, results appended to results.jsonl, resumable
    costs.py    what each method costs: planned memory, forward passes, a step on the virtual board
    report.py   the Markdown table, the CSV, the plots and the headline ratios
"""
